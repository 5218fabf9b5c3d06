//! The proxy's way out: project pages, core metadata and files from the real
//! indexes, over HTTPS with the system's trust store (so a site's
//! TLS-intercepting proxy CA works as it does for pip on the host).

use std::io::Read;
use std::time::Duration;

use ureq::tls::{RootCerts, TlsConfig};

/// Why a fetch produced nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The index answered 404: the project or file does not exist there.
    NotFound,
    /// The index could not be reached or answered with an error.
    Failed(String),
}

pub struct Upstream {
    agent: ureq::Agent,
}

pub const PEP_691_JSON: &str = "application/vnd.pypi.simple.v1+json";

impl Upstream {
    pub fn new() -> Upstream {
        let tls = TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .user_agent(concat!("hpc-kernels/", env!("CARGO_PKG_VERSION"), " (index proxy)"))
            .build();
        Upstream { agent: config.into() }
    }

    /// GET `url`; the body as bytes, at most `limit` of them.
    pub fn get(&self, url: &str, accept: Option<&str>, limit: u64) -> Result<Vec<u8>, FetchError> {
        let mut response = self.send(url, accept)?;
        let mut body = Vec::new();
        response
            .body_mut()
            .with_config()
            .limit(limit)
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| FetchError::Failed(format!("{url}: reading the response: {e}")))?;
        Ok(body)
    }

    /// GET `url` and copy the body into `sink`.
    pub fn download(&self, url: &str, sink: &mut dyn std::io::Write) -> Result<u64, FetchError> {
        let mut response = self.send(url, None)?;
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        std::io::copy(&mut reader, sink).map_err(|e| FetchError::Failed(format!("{url}: download broke off: {e}")))
    }

    fn send(&self, url: &str, accept: Option<&str>) -> Result<ureq::http::Response<ureq::Body>, FetchError> {
        let mut request = self.agent.get(url);
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let response = request.call().map_err(|e| FetchError::Failed(format!("{url}: {e}")))?;
        match response.status().as_u16() {
            200 => Ok(response),
            404 | 410 => Err(FetchError::NotFound),
            code => Err(FetchError::Failed(format!("{url}: the index answered HTTP {code}"))),
        }
    }
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream::new()
    }
}
