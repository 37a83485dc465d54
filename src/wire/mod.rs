//! Codecs shared by the dialects.

pub mod form;
