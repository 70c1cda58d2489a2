//! The SkyWalking trace source: the service's traces through the OAP's GraphQL API
//! (`queryBasicTraces`, every page), in the OAP's time zone.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use chrono::{DateTime, FixedOffset, Utc};

use super::reader::{POLL_TIMEOUT, TraceSource, WINDOW_MARGIN};
use crate::system::skywalking::graphql;

pub(super) struct SkywalkingSource {
    service: String,
    /// The window's start.
    from: DateTime<Utc>,
    /// The OAP's time zone, once asked.
    timezone: Option<FixedOffset>,
}

impl SkywalkingSource {
    pub(super) fn new(service: String, from: DateTime<Utc>) -> Self {
        Self {
            service,
            from,
            timezone: None,
        }
    }
}

impl TraceSource for SkywalkingSource {
    /// The service's traces from the window's start to WINDOW_MARGIN from now, through `node`.
    async fn list(
        &mut self,
        node: &str,
        address: Ipv4Addr,
    ) -> anyhow::Result<BTreeMap<String, u32>> {
        let timezone = match self.timezone {
            Some(zone) => zone,
            None => {
                let zone = graphql::time_info(node, address, POLL_TIMEOUT)
                    .await?
                    .timezone;
                *self.timezone.insert(zone)
            }
        };
        let window = graphql::Window {
            start: self.from,
            end: Utc::now() + WINDOW_MARGIN,
            timezone,
        };
        graphql::trace_segments(node, address, &self.service, &window, POLL_TIMEOUT).await
    }
}
