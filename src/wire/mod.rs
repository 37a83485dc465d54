//! Codecs shared by the dialects: request bodies within the shared limits, form bodies, PHP's bracket names, and the answer
//! encoders (JSON via serde, PHP serialize, XML).

pub mod body;
pub mod form;
pub mod php_form;
pub mod php_serialize;
pub mod value;
pub mod xml;

/// An error and its causes on one line (reqwest and hyper hide the telling part
/// in the source chain).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
