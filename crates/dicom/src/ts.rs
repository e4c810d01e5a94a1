//! Transfer syntax names and whether this build decodes them.

use crate::DicomError;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use std::path::Path;

/// The registered name of a transfer syntax UID, or the UID itself.
pub fn ts_name(uid: &str) -> String {
    TransferSyntaxRegistry
        .get(uid)
        .map(|ts| ts.name().to_string())
        .unwrap_or_else(|| uid.to_string())
}

/// Fails with "unsupported transfer syntax <name>" unless both the data
/// set and the pixel data of `uid` can be decoded by this build.
pub(crate) fn check_supported(uid: &str, path: &Path) -> Result<(), DicomError> {
    // JPEG-LS is decoded by this crate, not by the registry.
    if uid == crate::codec::JPEG_LS_LOSSLESS || uid == crate::codec::JPEG_LS_NEAR_LOSSLESS {
        return Ok(());
    }
    let ok = TransferSyntaxRegistry
        .get(uid)
        .map(|ts| ts.can_decode_all())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(DicomError::UnsupportedTransferSyntax {
            path: path.to_path_buf(),
            name: ts_name(uid),
            uid: uid.to_string(),
        })
    }
}
