//! Codecs shared by the dialects: request bodies within the shared limits, form bodies, PHP's bracket names, and the answer
//! encoders (JSON via serde, PHP serialize, XML).

pub mod body;
pub mod form;
pub mod php_form;
pub mod php_serialize;
pub mod value;
pub mod xml;
