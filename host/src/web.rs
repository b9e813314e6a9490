//! The web page at `/tokengate/`: the restriction playground and the token admin page,
//! from the files in `web/` embedded in the binary, plus the policy component itself.
//!
//! The page runs the very bytes the gateway runs: `policy.wasm` is
//! [`tokengate_policy_artifact::COMPONENT`], and the page shows its SHA-256 next to
//! the one `/healthz` reports. Serving needs no Node: the jco glue is committed in
//! `web/policy/`.

use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{Response, StatusCode};

use crate::response::{Body, full};

/// Where the page lives; `/tokengate` alone redirects to `/tokengate/`.
pub const PREFIX: &str = "/tokengate";

/// Scripts and styles from this origin only, no inline code; `'wasm-unsafe-eval'`
/// lets the page (and its worker, which gets this header with its script) compile
/// the component; workers only from this origin; requests only to this gateway.
const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    worker-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
    form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const WASM: &str = "application/wasm";

/// Every file of the page: name under `/tokengate/`, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("index.html", HTML, include_bytes!("../../web/index.html")),
    ("admin.html", HTML, include_bytes!("../../web/admin.html")),
    ("style.css", CSS, include_bytes!("../../web/style.css")),
    (
        "playground.js",
        JS,
        include_bytes!("../../web/playground.js"),
    ),
    ("admin.js", JS, include_bytes!("../../web/admin.js")),
    ("loader.js", JS, include_bytes!("../../web/loader.js")),
    (
        "policy-runner.js",
        JS,
        include_bytes!("../../web/policy-runner.js"),
    ),
    (
        "policy-worker.js",
        JS,
        include_bytes!("../../web/policy-worker.js"),
    ),
    ("component.js", JS, include_bytes!("../../web/component.js")),
    ("sha256.js", JS, include_bytes!("../../web/sha256.js")),
    ("state.js", JS, include_bytes!("../../web/state.js")),
    ("evaluate.js", JS, include_bytes!("../../web/evaluate.js")),
    ("problems.js", JS, include_bytes!("../../web/problems.js")),
    ("examples.js", JS, include_bytes!("../../web/examples.js")),
    ("snippets.js", JS, include_bytes!("../../web/snippets.js")),
    ("dom.js", JS, include_bytes!("../../web/dom.js")),
    (
        "policy/policy.js",
        JS,
        include_bytes!("../../web/policy/policy.js"),
    ),
];

/// The page's answer to a GET (or HEAD) of `path`, the request's path; `None` when
/// `path` is not one of the page's files (the router answers 404).
pub fn asset(path: &str) -> Option<Response<Body>> {
    if path == PREFIX {
        // Relative, so it also works behind a proxy that mounts the gateway under a prefix.
        let mut response = Response::new(full(""));
        *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
        response
            .headers_mut()
            .insert(LOCATION, HeaderValue::from_static("tokengate/"));
        return Some(response);
    }
    let name = path.strip_prefix(PREFIX)?.strip_prefix('/')?;
    let (content_type, bytes): (&str, &'static [u8]) = match name {
        "" => (HTML, FILES[0].2),
        "policy.wasm" => (WASM, tokengate_policy_artifact::COMPONENT),
        _ => FILES
            .iter()
            .find(|(file, _, _)| *file == name)
            .map(|(_, content_type, bytes)| (*content_type, *bytes))?,
    };
    let mut response = Response::new(full(bytes));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Not content-addressed URLs: revalidate, so a new gateway's page is used at once.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Some(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use http_body_util::BodyExt;

    async fn body(response: Response<Body>) -> Vec<u8> {
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    fn header(response: &Response<Body>, name: http::header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[tokio::test]
    async fn the_page_and_its_files_are_served_with_strict_headers() {
        let index = asset("/tokengate/").unwrap();
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(header(&index, CONTENT_TYPE), HTML);
        assert!(header(&index, CONTENT_SECURITY_POLICY).contains("'wasm-unsafe-eval'"));
        assert!(!header(&index, CONTENT_SECURITY_POLICY).contains("unsafe-inline"));
        assert!(header(&index, CONTENT_SECURITY_POLICY).contains("worker-src 'self'"));
        assert_eq!(header(&index, X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(body(index).await, include_bytes!("../../web/index.html"));

        let glue = asset("/tokengate/policy/policy.js").unwrap();
        assert_eq!(header(&glue, CONTENT_TYPE), JS);
        assert_eq!(
            header(&asset("/tokengate/style.css").unwrap(), CONTENT_TYPE),
            CSS
        );
    }

    #[tokio::test]
    async fn policy_wasm_is_the_component_the_gateway_runs() {
        let wasm = asset("/tokengate/policy.wasm").unwrap();
        assert_eq!(header(&wasm, CONTENT_TYPE), WASM);
        assert_eq!(body(wasm).await, tokengate_policy_artifact::COMPONENT);
    }

    #[test]
    fn the_bare_prefix_redirects_and_unknown_paths_are_not_ours() {
        let redirect = asset("/tokengate").unwrap();
        assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&redirect, LOCATION), "tokengate/");
        for path in [
            "/tokengate/missing.js",
            "/tokengate/../Cargo.toml",
            "/tokengate/policy/policy.d.ts",
            "/tokengateway/",
            "/rest/api/space",
        ] {
            assert!(asset(path).is_none(), "{path}");
        }
    }

    /// A new file in web/ that the page loads must be listed in FILES.
    #[test]
    fn every_page_file_in_web_is_embedded() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
        let mut missing = Vec::new();
        for dir in ["", "policy"] {
            for entry in std::fs::read_dir(web.join(dir)).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                let served = [".html", ".css", ".js"]
                    .iter()
                    .any(|ext| name.ends_with(ext));
                let path = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                if served && !FILES.iter().any(|(file, _, _)| *file == path) {
                    missing.push(path);
                }
            }
        }
        assert!(missing.is_empty(), "not embedded in FILES: {missing:?}");
    }
}
