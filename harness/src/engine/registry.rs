//! The registry client: the three things cachet asks of the local registry (list the
//! repositories and tags it pushed, resolve a manifest digest, delete a manifest), as plain
//! HTTP/1.1 over a `TcpStream` to `HOST:PORT`.
//!
//! Why not a maintained OCI distribution client (measured for issue #11 with `oci-client` 0.18.0,
//! the current release, `default-features = false, features = ["rustls-tls"]`): it has catalog
//! (`catalog`), tags (`list_tags`) and digest (`fetch_manifest_digest`) calls, and plain HTTP via
//! `ClientProtocol::Http`, but **no manifest delete** at all, so cleanup would still need a
//! hand-written DELETE beside it. It also brings reqwest, rustls and oci-spec: a scratch crate of
//! tokio + oci-client alone took 3 min 25 s to build cold on this 2-core machine, about as much as
//! the rest of the harness's dependencies. Half a client plus that cost buys nothing here; this
//! one is ~80 lines, blocking, and speaks only to the loopback registry `ci/engines` starts.

use std::io::Read;
use std::time::Duration;

use crate::error::{Error, Result};

/// Whether the registry at `host` (`HOST:PORT`) takes a connection: a build that pushes to it or
/// imports cache from it checks first, so a registry that is down makes the scenario lost
/// (`Error::EngineUnavailable`), not a run of misses (BuildKit builds on without the cache it
/// could not import, and only warns).
pub fn registry_answers(host: &str) -> Result<()> {
    use std::net::ToSocketAddrs;
    let unavailable = |detail: String| Error::EngineUnavailable {
        engine: "registry".to_string(),
        endpoint: host.to_string(),
        detail,
    };
    let address = host
        .to_socket_addrs()
        .map_err(|e| unavailable(e.to_string()))?
        .next()
        .ok_or_else(|| unavailable("no address".to_string()))?;
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map(drop)
        .map_err(|e| unavailable(e.to_string()))
}

/// One plain-HTTP request to a registry (`HOST:PORT`); the whole response, headers included.
fn registry_request(host: &str, method: &str, path: &str) -> Result<String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(host)
        .map_err(|e| Error::EngineCall(format!("registry {host}: {e}")))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| Error::EngineCall(format!("registry {host}: {e}")))?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    Ok(response)
}

/// A registry's JSON answer to a GET (`/v2/_catalog`, `/v2/NAME/tags/list`).
fn registry_json(host: &str, path: &str) -> Result<serde_json::Value> {
    let response = registry_request(host, "GET", path)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).map_err(|e| {
        Error::EngineCall(format!(
            "registry {host}{path}: unexpected answer ({e}): {}",
            response.lines().next().unwrap_or("")
        ))
    })
}

/// Every tag the registry holds in a repository cachet pushed to (`cachet-SALT/NAME`), as
/// `HOST:PORT/cachet-SALT/NAME:TAG`.
pub fn cachet_registry_references(host: &str) -> Result<Vec<String>> {
    let catalog = registry_json(host, "/v2/_catalog?n=100000")?;
    let mut references = Vec::new();
    for repository in catalog["repositories"].as_array().into_iter().flatten() {
        let Some(name) = repository.as_str().filter(|n| n.starts_with("cachet-")) else {
            continue;
        };
        let tags = registry_json(host, &format!("/v2/{name}/tags/list"))?;
        for tag in tags["tags"].as_array().into_iter().flatten() {
            if let Some(tag) = tag.as_str() {
                references.push(format!("{host}/{name}:{tag}"));
            }
        }
    }
    Ok(references)
}

/// Deletes a pushed reference (`HOST:PORT/NAME:TAG`) from a plain-HTTP registry: looks up its
/// manifest digest, then deletes the manifest. Blobs stay until the registry's garbage collection.
pub fn delete_from_registry(reference: &str) -> Result<()> {
    let (host, rest) = reference
        .split_once('/')
        .ok_or_else(|| Error::BadInput(format!("`{reference}` names no registry")))?;
    let (name, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
    let head = registry_request(host, "HEAD", &format!("/v2/{name}/manifests/{tag}"))?;
    let Some(digest) = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("docker-content-digest"))
            .map(|(_, v)| v.trim().to_string())
    }) else {
        return Ok(()); // not there (never pushed, or deleted already)
    };
    let response = registry_request(host, "DELETE", &format!("/v2/{name}/manifests/{digest}"))?;
    if response.starts_with("HTTP/1.1 202") || response.starts_with("HTTP/1.1 404") {
        Ok(())
    } else {
        Err(Error::EngineCall(format!(
            "registry refused to delete {reference}: {}",
            response.lines().next().unwrap_or("")
        )))
    }
}
