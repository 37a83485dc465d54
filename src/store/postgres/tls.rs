//! TLS to PostgreSQL, as libpq's `sslmode` describes it, over rustls:
//!
//! | `sslmode`     | encrypted            | certificate checked                 |
//! |---------------|----------------------|-------------------------------------|
//! | `disable`     | no                   | -                                   |
//! | `prefer` (default) | if the server offers | no                             |
//! | `require`     | yes                  | no (as libpq, unless `sslrootcert`: then as `verify-ca`) |
//! | `verify-ca`   | yes                  | chain, against the roots            |
//! | `verify-full` | yes                  | chain and host name                 |
//!
//! The roots are `sslrootcert=FILE` (PEM) when given, else the system's
//! (`rustls-native-certs`). tokio-postgres knows only disable/prefer/require, so
//! the URL's `sslmode` and `sslrootcert` are read and removed here before it parses
//! the rest.

use super::StoreError;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the URL asked of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(s: &str) -> Result<Mode, StoreError> {
        Ok(match s {
            "disable" => Mode::Disable,
            "allow" | "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(StoreError::Unavailable(format!(
                    "the database URL's sslmode '{other}' is not one of disable, prefer, \
                     require, verify-ca, verify-full"
                )));
            }
        })
    }
}

/// A database URL with its TLS settings taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsUrl {
    /// The URL for tokio-postgres, without `sslmode` and `sslrootcert`.
    pub url: String,
    pub mode: Mode,
    pub root_cert: Option<String>,
}

/// Reads `sslmode` and `sslrootcert` out of a `postgres://` URL (key=value
/// connection strings are passed on as they are, with tokio-postgres's own modes).
pub fn split_url(raw: &str) -> Result<TlsUrl, StoreError> {
    let Ok(mut url) = url::Url::parse(raw) else {
        return Ok(TlsUrl {
            url: raw.to_string(),
            mode: Mode::Prefer,
            root_cert: None,
        });
    };
    let mut mode = Mode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "sslmode" => mode = Mode::parse(&v)?,
            "sslrootcert" => root_cert = Some(v.into_owned()),
            "sslcert" | "sslkey" => {
                return Err(StoreError::Unavailable(
                    "client certificates (sslcert, sslkey) are not supported: use a password"
                        .into(),
                ));
            }
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok(TlsUrl {
        url: url.to_string(),
        mode,
        root_cert,
    })
}

impl TlsUrl {
    /// tokio-postgres's own mode for this one.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }

    /// The TLS connector for this mode.
    pub fn connector(&self) -> Result<Connector, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Unavailable(format!("TLS set-up failed: {e}")))?;
        let verify = match (self.mode, &self.root_cert) {
            (Mode::VerifyFull, _) => Check::Full,
            (Mode::VerifyCa, _) | (Mode::Require, Some(_)) => Check::Chain,
            _ => Check::Nothing,
        };
        let config = match verify {
            Check::Nothing => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCheck(provider)))
                .with_no_client_auth(),
            Check::Full | Check::Chain => {
                let roots = Arc::new(self.roots()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| StoreError::Unavailable(format!("TLS set-up failed: {e}")))?;
                match verify {
                    Check::Full => builder.with_webpki_verifier(webpki).with_no_client_auth(),
                    _ => builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                        .with_no_client_auth(),
                }
            }
        };
        Ok(Connector(MakeRustlsConnect::new(config)))
    }

    fn roots(&self) -> Result<RootCertStore, StoreError> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                    StoreError::Unavailable(format!("cannot read sslrootcert {path}: {e}"))
                })?;
                for cert in certs {
                    let cert = cert.map_err(|e| {
                        StoreError::Unavailable(format!("cannot read sslrootcert {path}: {e}"))
                    })?;
                    roots.add(cert).map_err(|e| {
                        StoreError::Unavailable(format!(
                            "sslrootcert {path} holds a bad certificate: {e}"
                        ))
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(StoreError::Unavailable(
                        "no system CA certificates found to verify the database server; \
                         give one with sslrootcert=/path/to/ca.pem"
                            .into(),
                    ));
                }
            }
        }
        if roots.is_empty() {
            return Err(StoreError::Unavailable(
                "sslrootcert holds no certificate".into(),
            ));
        }
        Ok(roots)
    }
}

/// The rustls connector, which also takes the empty host name tokio-postgres
/// gives it for a Unix socket (where TLS is never used: it asked for one anyway,
/// and a name that is no DNS name failed the connection).
#[derive(Clone)]
pub struct Connector(MakeRustlsConnect);

impl<S> tokio_postgres::tls::MakeTlsConnect<S> for Connector
where
    MakeRustlsConnect: tokio_postgres::tls::MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::TlsConnect;
    type Error = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        let domain = if domain.is_empty() {
            "localhost"
        } else {
            domain
        };
        self.0.make_tls_connect(domain)
    }
}

enum Check {
    Nothing,
    Chain,
    Full,
}

/// `prefer` and `require`: encrypted, the certificate not checked (libpq's
/// behaviour); the handshake's signatures still are.
#[derive(Debug)]
struct NoCheck(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_taken_out_of_the_url() {
        let t = split_url(
            "postgres://u:p@db.example.com:5432/groupd?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=g",
        )
        .unwrap();
        assert_eq!(t.mode, Mode::VerifyFull);
        assert_eq!(t.root_cert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(
            t.url,
            "postgres://u:p@db.example.com:5432/groupd?application_name=g"
        );
        assert_eq!(t.ssl_mode(), SslMode::Require);
        let plain = split_url("postgres://u@h/db").unwrap();
        assert_eq!(
            (plain.mode, plain.url.as_str()),
            (Mode::Prefer, "postgres://u@h/db")
        );
        let off = split_url("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(
            (off.mode, off.url.as_str()),
            (Mode::Disable, "postgres://u@h/db")
        );
        assert!(split_url("postgres://u@h/db?sslmode=bogus").is_err());
        assert!(split_url("postgres://u@h/db?sslcert=/c.pem").is_err());
    }
}
