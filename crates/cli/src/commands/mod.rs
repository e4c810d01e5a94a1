pub mod convert;
pub mod doctor;
pub mod info;
pub mod models;
