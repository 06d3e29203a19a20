//! RFC 3161 time-stamps for PAdES B-T: asks a TSA over HTTP (POST application/timestamp-query)
//! for a token on the signature value and checks the token answers that request.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{Any, BitString, OctetString};
use der::{Decode, Encode, Reader, SliceReader};
use sha2::{Digest, Sha256};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::cms::ID_SHA256;

/// A configured time-stamping authority. Only `http://` URLs: RFC 3161 tokens are signed by the TSA,
/// so the transport needs no TLS, and the TSAs of the Vietnamese public CAs answer on plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsaClient {
    pub url: String,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error("Địa chỉ máy chủ cấp dấu thời gian «{url}» không dùng được: {reason}.")]
    BadUrl { url: String, reason: String },
    #[error("Không kết nối được máy chủ cấp dấu thời gian {url}: {reason}.")]
    Connect { url: String, reason: String },
    #[error("Máy chủ cấp dấu thời gian {url} trả lời lỗi: {reason}.")]
    Refused { url: String, reason: String },
    #[error("Dấu thời gian từ {url} không hợp lệ: {reason}.")]
    BadToken { url: String, reason: String },
}

#[derive(der::Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(der::Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    nonce: u64,
    cert_req: bool,
}

#[derive(der::Sequence)]
struct PkiStatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

#[derive(der::Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<Any>,
}

impl TsaClient {
    pub fn new(url: impl Into<String>) -> Self {
        TsaClient {
            url: url.into(),
            timeout: Duration::from_secs(20),
        }
    }

    /// A DER time-stamp token (ContentInfo) over SHA-256(`signature_value`).
    pub fn stamp(&self, signature_value: &[u8]) -> Result<Vec<u8>, TsaError> {
        let digest = Sha256::digest(signature_value);
        let nonce =
            u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8])) >> 1 ^ nonce_salt();
        let bad = |reason: String| TsaError::BadToken {
            url: self.url.clone(),
            reason,
        };
        let request = TimeStampReq {
            version: 1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: ID_SHA256,
                    parameters: None,
                },
                hashed_message: OctetString::new(digest.to_vec())
                    .map_err(|e| bad(e.to_string()))?,
            },
            nonce,
            cert_req: true,
        }
        .to_der()
        .map_err(|e| bad(e.to_string()))?;
        let body = self.post(&request)?;
        let response = TimeStampResp::from_der(&body)
            .map_err(|e| bad(format!("trả lời không đọc được ({e})")))?;
        if response.status.status > 1 {
            return Err(TsaError::Refused {
                url: self.url.clone(),
                reason: format!(
                    "trạng thái {} {}",
                    response.status.status,
                    response.status.status_string.unwrap_or_default().join("; ")
                ),
            });
        }
        let token = response
            .time_stamp_token
            .ok_or_else(|| bad("trả lời không kèm dấu thời gian".into()))?
            .to_der()
            .map_err(|e| bad(e.to_string()))?;
        let imprint = token_imprint(&token).map_err(|e| bad(e.to_string()))?;
        if imprint != digest.as_slice() {
            return Err(bad(
                "dấu thời gian không phải cho chữ ký này (message imprint khác)".into(),
            ));
        }
        Ok(token)
    }

    fn post(&self, body: &[u8]) -> Result<Vec<u8>, TsaError> {
        let bad_url = |reason: &str| TsaError::BadUrl {
            url: self.url.clone(),
            reason: reason.into(),
        };
        let rest = self
            .url
            .strip_prefix("http://")
            .ok_or_else(|| bad_url("chỉ hỗ trợ địa chỉ http://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(bad_url("thiếu tên máy chủ"));
        }
        let address = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let connect = |reason: String| TsaError::Connect {
            url: self.url.clone(),
            reason,
        };
        let socket = address
            .to_socket_addrs()
            .map_err(|e| connect(e.to_string()))?
            .next()
            .ok_or_else(|| connect("không phân giải được tên máy chủ".into()))?;
        let mut stream = TcpStream::connect_timeout(&socket, self.timeout)
            .map_err(|e| connect(e.to_string()))?;
        stream
            .set_read_timeout(Some(self.timeout))
            .map_err(|e| connect(e.to_string()))?;
        stream
            .set_write_timeout(Some(self.timeout))
            .map_err(|e| connect(e.to_string()))?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/timestamp-query\r\nAccept: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .map_err(|e| connect(e.to_string()))?;
        stream.write_all(body).map_err(|e| connect(e.to_string()))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| connect(e.to_string()))?;
        let refused = |reason: String| TsaError::Refused {
            url: self.url.clone(),
            reason,
        };
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| refused("trả lời HTTP không trọn".into()))?;
        let head = String::from_utf8_lossy(&response[..split]).to_string();
        let body = &response[split + 4..];
        let status_line = head.lines().next().unwrap_or("");
        if status_line.split_whitespace().nth(1) != Some("200") {
            return Err(refused(format!("HTTP «{status_line}»")));
        }
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("transfer-encoding:")
                && l.to_ascii_lowercase().contains("chunked")
        });
        if chunked {
            dechunk(body).ok_or_else(|| refused("trả lời HTTP chia khúc hỏng".into()))
        } else {
            Ok(body.to_vec())
        }
    }
}

fn nonce_salt() -> u64 {
    let mut bytes = [0u8; 8];
    // A nonce only has to differ between requests; ring's system RNG is already here.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_be_bytes(bytes) >> 1
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// The hashed message a time-stamp token certifies: ContentInfo → SignedData → TSTInfo.messageImprint.
pub fn token_imprint(token: &[u8]) -> Result<Vec<u8>, der::Error> {
    let info = ContentInfo::from_der(token)?;
    let signed: SignedData = info.content.decode_as()?;
    let tst_info = signed
        .encap_content_info
        .econtent
        .ok_or_else(|| der::Error::from(der::ErrorKind::Failed))?
        .decode_as::<OctetString>()?;
    let mut reader = SliceReader::new(tst_info.as_bytes())?;
    reader.sequence(|r| {
        let _version: u8 = r.decode()?;
        let _policy: der::oid::ObjectIdentifier = r.decode()?;
        let imprint: MessageImprint = r.decode()?;
        let rest = r.remaining_len();
        r.read_slice(rest)?;
        Ok(imprint.hashed_message.as_bytes().to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").as_deref(),
            Some(&b"abcde"[..])
        );
        assert_eq!(dechunk(b"5\r\nab"), None);
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        let err = TsaClient::new("https://tsa.example/")
            .stamp(b"sig")
            .unwrap_err();
        assert!(matches!(err, TsaError::BadUrl { .. }), "{err}");
        assert!(err.to_string().contains("http://"), "{err}");
    }
}
