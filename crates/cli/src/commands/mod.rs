pub mod collect;
pub mod convert;
pub mod dicom;
pub mod docs;
pub mod doctor;
pub mod info;
pub mod models;
pub mod modules;
pub mod predict;
pub mod preprocess;
pub mod train;
pub mod wrap;

/// Prints a `--json` summary on stdout, pretty, as one document. The values
/// are plain data (strings, numbers, maps), whose serialisation cannot fail;
/// should it, the error is printed as a JSON string rather than nothing, so a
/// script still reads valid JSON.
pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => println!("{}", serde_json::Value::String(format!("error: {e}"))),
    }
}
