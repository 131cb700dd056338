//! Static assets, compiled into the binary: served with their content type,
//! an ETag, and long caching when asked for by their versioned URL.

use std::sync::LazyLock;

use poem::{
    Request, Response, handler,
    http::{HeaderValue, StatusCode, header},
    web::Path,
};
use sha2::{Digest, Sha256};

struct Asset {
    /// Where it is served: `/assets/` or, for the API explorer's, `/api/docs/`.
    dir: &'static str,
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The site's assets are served under this path.
const SITE: &str = "/assets/";
/// The API explorer's, under this one: beside the page that loads them.
const DOCS: &str = "/api/docs/";

/// htmx 2.0.11, from the `htmx.org` npm package (`dist/htmx.min.js`),
/// sha256 d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717.
pub const HTMX: &str = "htmx-2.0.11.min.js";

const ASSETS: &[Asset] = &[
    Asset {
        dir: SITE,
        name: "theme.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../assets/theme.css"),
    },
    Asset {
        dir: SITE,
        name: "noscript.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../assets/noscript.css"),
    },
    Asset {
        dir: SITE,
        name: HTMX,
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../assets/htmx-2.0.11.min.js"),
    },
    Asset {
        dir: SITE,
        name: "tangerine.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../assets/tangerine.js"),
    },
    Asset {
        dir: SITE,
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../../assets/favicon.svg"),
    },
    Asset {
        dir: SITE,
        name: "favicon.ico",
        content_type: "image/x-icon",
        bytes: include_bytes!("../../../assets/favicon.ico"),
    },
    // Swagger UI 5.35.0 from the npm package `swagger-ui-dist`, unchanged
    // (assets/swagger-ui/README.md has the checksums), and our start-up.
    Asset {
        dir: DOCS,
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../assets/swagger-ui/swagger-ui-bundle.js"),
    },
    Asset {
        dir: DOCS,
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../assets/swagger-ui/swagger-ui.css"),
    },
    Asset {
        dir: DOCS,
        name: "LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../../../assets/swagger-ui/LICENSE"),
    },
    Asset {
        dir: DOCS,
        name: "api-docs.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../assets/api-docs.js"),
    },
    Asset {
        dir: DOCS,
        name: "api-docs.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../assets/api-docs.css"),
    },
];

/// Each asset's version: the start of its SHA-256, computed once.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            Sha256::digest(a.bytes)[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
});

fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    let i = ASSETS.iter().position(|a| a.name == name)?;
    Some((&ASSETS[i], VERSIONS[i].as_str()))
}

/// The URL of an asset for templates: versioned, so that it can be cached
/// for good and still change the moment the file does.
pub fn url(name: &str) -> String {
    match find(name) {
        Some((asset, version)) => format!("{}{}?v={version}", asset.dir, asset.name),
        None => format!("/assets/{name}"),
    }
}

#[handler]
pub fn serve(Path(name): Path<String>, req: &Request) -> Response {
    respond(SITE, &name, req)
}

/// The API explorer's assets, under `/api/docs/`.
#[handler]
pub fn serve_docs(Path(name): Path<String>, req: &Request) -> Response {
    respond(DOCS, &name, req)
}

/// Browsers ask for `/favicon.ico` on their own.
#[handler]
pub fn favicon(req: &Request) -> Response {
    respond(SITE, "favicon.ico", req)
}

fn respond(dir: &str, name: &str, req: &Request) -> Response {
    let Some((asset, version)) = find(name).filter(|(a, _)| a.dir == dir) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("Not found");
    };
    let etag = format!("\"{version}\"");
    let cache = if req.uri().query() == Some(&format!("v={version}")) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=0, must-revalidate"
    };
    let builder = Response::builder()
        .header(
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        )
        .header(header::CACHE_CONTROL, cache);
    let fresh = req.header(header::IF_NONE_MATCH).is_some_and(|tags| {
        // Weak comparison: a compressed copy carries the weak form.
        tags.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    });
    if fresh {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder.content_type(asset.content_type).body(asset.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_content_version() {
        let u = url("theme.css");
        assert!(u.starts_with("/assets/theme.css?v="), "{u}");
        assert_eq!(u.len(), "/assets/theme.css?v=".len() + 12);
        let docs = url("swagger-ui-bundle.js");
        assert!(
            docs.starts_with("/api/docs/swagger-ui-bundle.js?v="),
            "{docs}"
        );
    }
}
