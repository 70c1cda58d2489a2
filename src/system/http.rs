//! The HTTP client the system modules use for admin and query APIs (bookie and broker REST, the
//! SkyWalking OAP's GraphQL, the Pinpoint web's API): one pooled client, no proxy (nodes are
//! reached at their bridge addresses), a deadline per request.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;

/// An answer: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Nothing when the status is 2xx; otherwise an error saying `what` was refused, with the
    /// status and the body: `"{what}: 409 Conflict ..."`.
    pub fn ensure_success(&self, what: impl FnOnce() -> String) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.is_success(),
            "{}: {} {}",
            what(),
            self.status,
            self.body.trim()
        );
        Ok(())
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            // A proxy from the environment could not reach a container's bridge address.
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("a reqwest client without TLS or proxies builds")
    })
}

/// GET `url` within `timeout`; any status is an answer, only no answer is an error.
pub async fn get(url: &reqwest::Url, timeout: Duration) -> anyhow::Result<Answer> {
    answer(client().get(url.clone()), "GET", url, timeout).await
}

/// DELETE `url` within `timeout`; any status is an answer, only no answer is an error.
pub async fn delete(url: &reqwest::Url, timeout: Duration) -> anyhow::Result<Answer> {
    answer(client().delete(url.clone()), "DELETE", url, timeout).await
}

/// PUT to `url` without a body within `timeout`; any status is an answer, only no answer is an
/// error.
pub async fn put(url: &reqwest::Url, timeout: Duration) -> anyhow::Result<Answer> {
    answer(client().put(url.clone()), "PUT", url, timeout).await
}

/// Sends `request` (a `method` to `url`) and reads its answer, all within `timeout`.
async fn answer(
    request: reqwest::RequestBuilder,
    method: &str,
    url: &reqwest::Url,
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let exchange = async {
        let response = request.timeout(timeout).send().await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        Ok::<_, reqwest::Error>(Answer { status, body })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("no answer from {method} {url} within {timeout:?}"))?
        .with_context(|| format!("{method} {url}"))
}

/// GET `url` and fail unless the status is 2xx; returns the body.
pub async fn get_ok(url: &reqwest::Url, timeout: Duration) -> anyhow::Result<String> {
    let answer = get(url, timeout).await?;
    anyhow::ensure!(
        answer.is_success(),
        "GET {url} answered {}: {}",
        answer.status,
        answer.body.trim()
    );
    Ok(answer.body)
}

/// POST `body` as JSON to `url` within `timeout`; any status is an answer, only no answer is an
/// error.
pub async fn post_json(
    url: &reqwest::Url,
    body: &serde_json::Value,
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let request = with_body(
        client().post(url.clone()),
        "application/json",
        body.to_string(),
    );
    answer(request, "POST", url, timeout).await
}

/// PUT `body` as JSON to `url` within `timeout`; any status is an answer, only no answer is an
/// error.
pub async fn put_json(
    url: &reqwest::Url,
    body: &serde_json::Value,
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let request = with_body(
        client().put(url.clone()),
        "application/json",
        body.to_string(),
    );
    answer(request, "PUT", url, timeout).await
}

/// POST `pairs` as an HTML form (`application/x-www-form-urlencoded`) to `url` within `timeout`;
/// any status is an answer, only no answer is an error.
pub async fn post_form<'a>(
    url: &reqwest::Url,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let request = with_body(
        client().post(url.clone()),
        "application/x-www-form-urlencoded",
        body,
    );
    answer(request, "POST", url, timeout).await
}

/// `request` carrying `body` as `content_type`.
fn with_body(
    request: reqwest::RequestBuilder,
    content_type: &'static str,
    body: String,
) -> reqwest::RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
}

/// `http://address:port/` with `segments` appended, each percent-encoded as one path segment.
pub fn url(
    address: std::net::Ipv4Addr,
    port: u16,
    segments: &[&str],
) -> anyhow::Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(&format!("http://{address}:{port}/"))
        .with_context(|| format!("building a URL for {address}:{port}"))?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("http://{address}:{port}/ cannot take a path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_one_by_one() {
        let u = url(
            "172.18.0.5".parse().unwrap(),
            8080,
            &[
                "lookup",
                "v2",
                "topic",
                "persistent",
                "public",
                "default",
                "a b/c",
            ],
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "http://172.18.0.5:8080/lookup/v2/topic/persistent/public/default/a%20b%2Fc"
        );
    }
}
