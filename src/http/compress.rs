//! Compressed answers: brotli or gzip, as the client's `Accept-Encoding`
//! asks, for text answers of at least a kilobyte.
//!
//! Fast settings (brotli quality 1, gzip level 1): a homepage shrinks about
//! ten times for about as much CPU as rendering it; higher settings save a
//! little more for several times the CPU (bench/RESULTS.md has the
//! measurements). Answers over 64 KiB are
//! compressed on a blocking thread, so that a large page of the API does not
//! hold up an async worker. poem's own `Compression` middleware is not used:
//! it compresses answers of any size and type, and it also decompresses
//! request bodies, which no client of Tangerine needs.

use std::io::Write;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use poem::{
    Body, Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderMap, HeaderValue, StatusCode, header},
};

/// Answers shorter than this are sent as they are.
const MIN_SIZE: usize = 1024;
/// Answers longer than this are compressed off the async workers.
const INLINE_MAX: usize = 64 * 1024;
const BROTLI_QUALITY: u32 = 1;
const BROTLI_WINDOW_BITS: u32 = 16;
const GZIP_LEVEL: u32 = 1;
/// The `Vary` value of every answer long enough to be compressed.
const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("Accept-Encoding");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }

    fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Coding::Brotli => {
                let mut writer = brotli::CompressorWriter::new(
                    Vec::with_capacity(data.len() / 4),
                    4096,
                    BROTLI_QUALITY,
                    BROTLI_WINDOW_BITS,
                );
                writer.write_all(data)?;
                Ok(writer.into_inner())
            }
            Coding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::new(GZIP_LEVEL),
                );
                encoder.write_all(data)?;
                encoder.finish()
            }
        }
    }
}

/// The coding `Accept-Encoding` prefers among those we speak: the highest
/// `q`, brotli on a tie; `*` stands for either; `q=0` refuses.
fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let (mut br, mut gzip, mut any) = (None::<f32>, None::<f32>, None::<f32>);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.to_ascii_lowercase().as_str() {
                "br" => br = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => any = Some(q),
                _ => {}
            }
        }
    }
    let br = br.or(any).unwrap_or(0.0);
    let gzip = gzip.or(any).unwrap_or(0.0);
    match (br > 0.0, gzip > 0.0) {
        (true, _) if br >= gzip => Some(Coding::Brotli),
        (_, true) => Some(Coding::Gzip),
        _ => None,
    }
}

fn compressible(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/json" | "application/javascript" | "image/svg+xml" | "application/xml"
        )
}

pub struct Compression;

impl<E: Endpoint> Middleware<E> for Compression {
    type Output = CompressionEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CompressionEndpoint(inner)
    }
}

pub struct CompressionEndpoint<E>(E);

impl<E: Endpoint> Endpoint for CompressionEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let coding = negotiate(req.headers());
        let mut resp = self.0.call(req).await?.into_response();
        if !compressible(resp.headers())
            || resp.headers().contains_key(header::CONTENT_ENCODING)
            || matches!(
                resp.status(),
                StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
            )
        {
            return Ok(resp);
        }
        // An answer made in memory knows its length: one that will not be
        // compressed (too short, or not asked for) is sent as it is, without
        // being gathered into one buffer first.
        let body: BoxBody<Bytes, std::io::Error> = resp.take_body().into();
        let known = http_body::Body::size_hint(&body).exact();
        let long_enough = |len: u64| len >= MIN_SIZE as u64;
        if let Some(len) = known
            && (!long_enough(len) || coding.is_none())
        {
            if long_enough(len) {
                resp.headers_mut().append(header::VARY, ACCEPT_ENCODING);
            }
            resp.set_body(Body::from(body));
            return Ok(resp);
        }
        let body = Body::from(body).into_bytes().await?;
        if !long_enough(body.len() as u64) {
            resp.set_body(body);
            return Ok(resp);
        }
        // Whether this answer is compressed depends on the request's header.
        resp.headers_mut().append(header::VARY, ACCEPT_ENCODING);
        let Some(coding) = coding else {
            resp.set_body(body);
            return Ok(resp);
        };
        let compressed = if body.len() > INLINE_MAX {
            let data = body.clone();
            tokio::task::spawn_blocking(move || coding.compress(&data))
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r)
        } else {
            coding.compress(&body)
        };
        match compressed {
            Ok(compressed) => {
                let headers = resp.headers_mut();
                headers.insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(coding.name()),
                );
                // Another representation: a strong validator becomes weak.
                if let Some(etag) = headers.get(header::ETAG).and_then(|v| v.to_str().ok())
                    && !etag.starts_with("W/")
                    && let Ok(weak) = HeaderValue::from_str(&format!("W/{etag}"))
                {
                    headers.insert(header::ETAG, weak);
                }
                resp.set_body(Body::from(compressed));
            }
            Err(e) => {
                tracing::warn!(error = %e, "compressing an answer failed; sent as it is");
                resp.set_body(body);
            }
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        negotiate(&headers)
    }

    #[test]
    fn accept_encoding_is_negotiated() {
        assert_eq!(accept("gzip, deflate, br, zstd"), Some(Coding::Brotli));
        assert_eq!(accept("gzip"), Some(Coding::Gzip));
        assert_eq!(accept("br;q=0.5, gzip"), Some(Coding::Gzip));
        assert_eq!(accept("br;q=0, gzip;q=0"), None);
        assert_eq!(accept("identity"), None);
        assert_eq!(accept("*"), Some(Coding::Brotli));
        assert_eq!(accept("*;q=0.1, gzip"), Some(Coding::Gzip));
        assert_eq!(accept("deflate"), None);
        assert_eq!(negotiate(&HeaderMap::new()), None);
    }

    #[test]
    fn both_codings_round_trip() {
        let data = "<p>Tangerine</p>\n".repeat(500);
        let gz = Coding::Gzip.compress(data.as_bytes()).unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
        assert_eq!(plain, data.as_bytes());
        let br = Coding::Brotli.compress(data.as_bytes()).unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut brotli::Decompressor::new(&br[..], 4096), &mut plain)
            .unwrap();
        assert_eq!(plain, data.as_bytes());
        assert!(br.len() < data.len() / 10 && gz.len() < data.len() / 10);
    }
}
