//! The Docker-compatible API every real engine answers, Docker and Podman alike, whatever door
//! its builds come through: images, containers, tags, pushes, saves. Each door's non-build
//! calls are these.

use bollard::query_parameters::{
    ListContainersOptions, ListImagesOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use futures_util::StreamExt;

use super::base_image::BASE_LABEL;
use super::client::{block_on, client, unavailable};
use crate::engine::inventory::Engine;
use crate::error::{Error, Result};

/// Every image (intermediate ones included) and container (stopped ones included) on the
/// engine's host.
fn all_images_and_containers(
    engine: &Engine,
) -> Result<(
    Vec<bollard::models::ImageSummary>,
    Vec<bollard::models::ContainerSummary>,
)> {
    let docker = client(engine)?;
    block_on(async {
        let images = docker
            .list_images(Some(ListImagesOptions {
                all: true,
                ..Default::default()
            }))
            .await
            .map_err(|e| unavailable(engine, e))?;
        let containers = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await
            .map_err(|e| unavailable(engine, e))?;
        Ok((images, containers))
    })
}

/// How many images (intermediate ones included) and containers (stopped ones included) the
/// engine's host holds: what the leak check compares before and after.
pub(crate) fn resource_counts(engine: &Engine) -> Result<(usize, usize)> {
    let (images, containers) = all_images_and_containers(engine)?;
    Ok((images.len(), containers.len()))
}

/// Whether an image reference is one cachet makes: `cachet-scn-…`, `localhost/cachet-base:…`,
/// `127.0.0.1:5000/cachet-…/app:…` (the repository's path, past any registry host, starts with
/// `cachet-`).
pub fn is_cachet_reference(reference: &str) -> bool {
    let path = match reference.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => reference,
    };
    let path = path.strip_prefix("library/").unwrap_or(path);
    path.starts_with("cachet-")
}

/// What cachet made on the engine's host, children first: image ids (labelled with `BASE_LABEL`, or
/// tagged with a cachet reference) and container ids (labelled).
pub(crate) fn cachet_resources(engine: &Engine) -> Result<(Vec<String>, Vec<String>)> {
    let (mut images, containers) = all_images_and_containers(engine)?;
    images.retain(|i| {
        i.labels.contains_key(BASE_LABEL) || i.repo_tags.iter().any(|t| is_cachet_reference(t))
    });
    Ok((
        children_first(images),
        containers
            .into_iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(BASE_LABEL))
            })
            .filter_map(|c| c.id)
            .collect(),
    ))
}

/// What one scenario made, children first: the images and containers whose `BASE_LABEL` is its
/// salt (every image built on its base inherits the label).
pub(crate) fn salted_resources(engine: &Engine, salt: &str) -> Result<(Vec<String>, Vec<String>)> {
    let (mut images, containers) = all_images_and_containers(engine)?;
    images.retain(|i| i.labels.get(BASE_LABEL).is_some_and(|v| v == salt));
    Ok((
        children_first(images),
        containers
            .into_iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get(BASE_LABEL))
                    .is_some_and(|v| v == salt)
            })
            .filter_map(|c| c.id)
            .collect(),
    ))
}

/// Image ids ordered so that each comes before the image it was built on (its parent), newest
/// first otherwise. Creation times alone cannot order them: a classic build makes a whole chain
/// of intermediate images within one second, and a parent asked to go before its child stays.
fn children_first(mut images: Vec<bollard::models::ImageSummary>) -> Vec<String> {
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    let mut ordered = Vec::with_capacity(images.len());
    while !images.is_empty() {
        let parents: std::collections::HashSet<String> =
            images.iter().map(|i| i.parent_id.clone()).collect();
        let (leaves, rest): (Vec<_>, Vec<_>) =
            images.into_iter().partition(|i| !parents.contains(&i.id));
        if leaves.is_empty() {
            // Not a forest (no daemon reports one): the rest keep their time order.
            ordered.extend(rest.into_iter().map(|i| i.id));
            break;
        }
        ordered.extend(leaves.into_iter().map(|i| i.id));
        images = rest;
    }
    ordered
}

/// Removes containers by id, running ones too; missing ones are fine.
pub(crate) fn remove_containers(engine: &Engine, ids: &[String]) -> Result<()> {
    let docker = client(engine)?;
    block_on(async {
        for id in ids {
            let _ = docker
                .remove_container(
                    id,
                    Some(bollard::query_parameters::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
    });
    Ok(())
}

/// Removes images by reference; missing ones are fine.
pub(crate) fn remove_images(engine: &Engine, references: &[String]) -> Result<()> {
    let docker = client(engine)?;
    let remove = |reference: &str| {
        let reference = reference.to_string();
        let docker = docker.clone();
        async move {
            docker
                .remove_image(
                    &reference,
                    Some(RemoveImageOptions {
                        force: true,
                        noprune: false,
                        ..Default::default()
                    }),
                    None,
                )
                .await
        }
    };
    // Missing, or still in use: the daemon answered, and that is fine here. No answer: the
    // caller must know the images stay (`leftovers::take_unclean`).
    let unanswered = |removed: std::result::Result<_, bollard::errors::Error>| match removed {
        Ok(_) | Err(bollard::errors::Error::DockerResponseServerError { .. }) => None,
        Err(e) => Some(e.to_string()),
    };
    let unreachable = block_on(async {
        if engine.image_store.as_deref() == Some("containerd") {
            // The containerd store deletes an image and then waits for a garbage collection
            // (moby v28.5.2 daemon/containerd/image_delete.go: `SynchronousDelete`), and
            // containerd serves every delete waiting at once with one collection. Its images
            // have no parent chain to respect, so they all go at once.
            let removals = references.iter().map(|r| remove(r));
            futures_util::future::join_all(removals)
                .await
                .into_iter()
                .find_map(unanswered)
        } else {
            // Newest first: children before the images they are built on.
            for reference in references.iter().rev() {
                if let Some(e) = unanswered(remove(reference).await) {
                    return Some(e);
                }
            }
            None
        }
    });
    match unreachable {
        Some(detail) => Err(super::client::unavailable(engine, detail)),
        None => Ok(()),
    }
}

pub(crate) fn push_image(engine: &Engine, reference: &str) -> Result<()> {
    let docker = client(engine)?;
    let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
    block_on(async {
        let mut stream = docker.push_image(
            repo,
            Some(PushImageOptions {
                tag: Some(tag.to_string()),
                ..Default::default()
            }),
            None,
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) if info.error_detail.is_some() => {
                    return Err(Error::EngineCall(format!(
                        "push {reference}: {:?}",
                        info.error_detail
                    )))
                }
                Err(e) => return Err(Error::EngineCall(format!("push {reference}: {e}"))),
                _ => {}
            }
        }
        Ok(())
    })
}

pub(crate) fn tag_image(engine: &Engine, image: &str, reference: &str) -> Result<()> {
    let docker = client(engine)?;
    let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
    block_on(docker.tag_image(
        image,
        Some(TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        }),
    ))
    .map_err(|e| Error::EngineCall(format!("tag {reference}: {e}")))
}

/// An image as a `docker save` archive.
pub(crate) fn save_image(engine: &Engine, image: &str) -> Result<Vec<u8>> {
    let docker = client(engine)?;
    block_on(async {
        let mut bytes = Vec::new();
        let mut stream = docker.export_image(image);
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(
                &chunk.map_err(|e| Error::EngineCall(format!("saving {image}: {e}")))?,
            );
        }
        Ok::<_, Error>(bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, parent: &str, created: i64) -> bollard::models::ImageSummary {
        bollard::models::ImageSummary {
            id: id.into(),
            parent_id: parent.into(),
            created,
            ..Default::default()
        }
    }

    #[test]
    fn a_chain_made_within_one_second_goes_children_first() {
        // Listed parents first and all created in the same second, as a classic build leaves
        // its intermediate images; an older unrelated image comes last.
        let listed = vec![
            image("base", "", 10),
            image("step1", "base", 20),
            image("step2", "step1", 20),
            image("step3", "step2", 20),
            image("other", "", 5),
        ];
        assert_eq!(
            children_first(listed),
            ["step3", "other", "step2", "step1", "base"]
        );
    }
}
