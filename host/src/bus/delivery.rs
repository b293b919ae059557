//! [`Delivery`]: one message as the broker handed it over. The client makes
//! and acks them, `auth` verifies their signatures; it lives apart so that
//! `client` may import `auth` (to sign) without `auth` importing `client`.

use std::borrow::Cow;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};

/// A message the broker delivered. Ack it with [`BusClient::ack`](super::client::BusClient::ack) once it
/// has been dealt with; every delivery must be acked (see the module doc).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub(super) publish: Publish,
    /// Which connection it arrived on: an ack on a later connection is
    /// meaningless (the broker redelivers instead).
    pub(super) generation: u64,
}

impl Delivery {
    pub fn topic(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.publish.topic)
    }

    pub fn payload(&self) -> &[u8] {
        &self.publish.payload
    }

    pub fn properties(&self) -> Option<&PublishProperties> {
        self.publish.properties.as_ref()
    }

    pub fn response_topic(&self) -> Option<&str> {
        self.properties().and_then(|p| p.response_topic.as_deref())
    }

    pub fn correlation(&self) -> Option<&Bytes> {
        self.properties().and_then(|p| p.correlation_data.as_ref())
    }

    pub fn user_property(&self, name: &str) -> Option<&str> {
        self.properties()?.user_properties.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The broker says it may have sent this before.
    pub fn is_redelivery(&self) -> bool {
        self.publish.dup
    }
}
