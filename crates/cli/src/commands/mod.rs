pub mod collect;
pub mod convert;
pub mod dicom;
pub mod doctor;
pub mod info;
pub mod models;
pub mod predict;
pub mod preprocess;
