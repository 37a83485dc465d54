//! Form bodies: `application/x-www-form-urlencoded` and `multipart/form-data`, read
//! into ordered (name, value) pairs the way PHP fills `$_POST`: a later pair with
//! the same name wins (see [`FormFields`]), file parts are not form fields.
//!
//! The urlencoded reader is our own (a dozen lines over `percent-encoding`) because
//! the usual crates decode invalid UTF-8 lossily, and we must refuse it instead of
//! storing replacement characters. Multipart uses `multer`.

use bytes::Bytes;
use percent_encoding::percent_decode;

/// The most fields one request may carry (PHP's default `max_input_vars`).
pub const MAX_FIELDS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the field name or value is not valid UTF-8")]
    NotUtf8,
    #[error("the request carries more than {MAX_FIELDS} fields")]
    TooManyFields,
    #[error("the multipart body cannot be read: {0}")]
    Multipart(String),
    #[error(
        "the body's content type {0} is not accepted; send application/x-www-form-urlencoded or multipart/form-data"
    )]
    UnsupportedType(String),
}

/// Ordered form fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value of the last field called `name` (as PHP's `$_POST[name]`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn push(&mut self, name: String, value: String) -> Result<(), FormError> {
        if self.0.len() >= MAX_FIELDS {
            return Err(FormError::TooManyFields);
        }
        self.0.push((name, value));
        Ok(())
    }

    /// Appends every field of `other` (its values win over earlier ones).
    pub fn extend(&mut self, other: FormFields) -> Result<(), FormError> {
        for (k, v) in other.0 {
            self.push(k, v)?;
        }
        Ok(())
    }
}

fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(decoded).map_err(|_| FormError::NotUtf8)
}

/// Reads `a=1&b=two+words&c=%C3%A9`. Empty pieces (`&&`) are skipped; a piece with
/// no `=` is a field with an empty value, as in PHP.
pub fn parse_urlencoded(input: &[u8]) -> Result<FormFields, FormError> {
    let mut fields = FormFields::default();
    for piece in input.split(|&b| b == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        let name = decode_component(name)?;
        if name.is_empty() {
            continue;
        }
        fields.push(name, decode_component(value)?)?;
    }
    Ok(fields)
}

/// Reads a multipart body. File parts (those with a filename) are skipped, as PHP
/// puts them in `$_FILES`, not `$_POST`.
pub async fn parse_multipart(body: Bytes, boundary: &str) -> Result<FormFields, FormError> {
    Ok(parse_multipart_files(body, boundary).await?.0)
}

/// A file part of a multipart body: its field name and bytes.
pub type FilePart = (String, Bytes);

/// Reads a multipart body into its fields and, apart, its file parts (an empty
/// file input sends a part with an empty filename and no bytes: left out).
pub async fn parse_multipart_files(
    body: Bytes,
    boundary: &str,
) -> Result<(FormFields, Vec<FilePart>), FormError> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = FormFields::default();
    let mut files = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| FormError::Multipart(e.to_string()))?
    {
        let name = field.name().map(str::to_string);
        let file_name = field.file_name().map(str::to_string);
        let data = field
            .bytes()
            .await
            .map_err(|e| FormError::Multipart(e.to_string()))?;
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            continue;
        };
        if let Some(file_name) = file_name {
            if !(file_name.is_empty() && data.is_empty()) {
                files.push((name, data));
            }
            continue;
        }
        let value = String::from_utf8(data.to_vec()).map_err(|_| FormError::NotUtf8)?;
        fields.push(name, value)?;
    }
    Ok((fields, files))
}

/// Reads a form body by its content type. No content type, or an empty body, is
/// read as urlencoded.
pub async fn parse_body(content_type: Option<&str>, body: Bytes) -> Result<FormFields, FormError> {
    let ct = content_type.unwrap_or("").trim();
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/x-www-form-urlencoded" => parse_urlencoded(&body),
        "multipart/form-data" => {
            let boundary = multer::parse_boundary(ct)
                .map_err(|e| FormError::Multipart(format!("no usable boundary: {e}")))?;
            parse_multipart(body, &boundary).await
        }
        _ if body.is_empty() => Ok(FormFields::default()),
        _ => Err(FormError::UnsupportedType(essence)),
    }
}

pub use super::body::{BodyError, DRAIN_LIMIT, read_body};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_like_php() {
        let f = parse_urlencoded(b"a=1&b=two+words&c=%C3%A9&&d&a=2&%5Bx%5D=y").unwrap();
        assert_eq!(f.get("a"), Some("2"));
        assert_eq!(f.get("b"), Some("two words"));
        assert_eq!(f.get("c"), Some("é"));
        assert_eq!(f.get("d"), Some(""));
        assert_eq!(f.get("[x]"), Some("y"));
        assert_eq!(parse_urlencoded(b"a=%FF"), Err(FormError::NotUtf8));
        let many = "a=1&".repeat(MAX_FIELDS + 1);
        assert_eq!(
            parse_urlencoded(many.as_bytes()),
            Err(FormError::TooManyFields)
        );
    }

    #[tokio::test]
    async fn multipart_fields_skip_files() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"group_name\"\r\n\r\nTeam \u{e9}\r\n\
                    --XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nfile\r\n\
                    --XX--\r\n";
        let f = parse_body(Some("multipart/form-data; boundary=XX"), Bytes::from(body))
            .await
            .unwrap();
        assert_eq!(
            f.pairs(),
            &[("group_name".to_string(), "Team é".to_string())]
        );
        let err = parse_body(Some("application/json"), Bytes::from("{}")).await;
        assert!(matches!(err, Err(FormError::UnsupportedType(_))));
        assert!(
            parse_body(Some("multipart/form-data"), Bytes::from("x"))
                .await
                .is_err()
        );
    }
}
