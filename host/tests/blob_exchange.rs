//! Blobs over the bus (`bus::blob_exchange`) against the embedded broker,
//! with signed messages: a blob larger than a chunk arrives whole, a holder
//! that lies about a blob's content is refused by its digest, a blob nobody
//! holds fails with the holder's reason, and an unsigned request is refused
//! and audited, never answered.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use taylordash::audit::AuditLog;
use taylordash::blobs::{BlobCache, BlobError, sha256_hex};
use taylordash::bus::blob_exchange::CHUNK;
use taylordash::bus::{BlobExchange, BlobSource, BrokerAddr, BusAuth, BusClient, BusKey, ClientOptions, EmbeddedBroker, ExchangeOptions, Topics};

fn broker() -> BrokerAddr {
    static B: OnceLock<EmbeddedBroker> = OnceLock::new();
    B.get_or_init(|| EmbeddedBroker::start(&Default::default()).expect("embedded broker")).addr()
}

fn topics() -> Topics {
    Topics::new(&format!("td-test/blobs-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])).unwrap()
}

fn key() -> Arc<BusAuth> {
    Arc::new(BusAuth::new(BusKey::from_bytes(vec![0x5a; 32]).unwrap()))
}

fn node(name: &str, topics: &Topics, source: Arc<dyn BlobSource>, audit: Option<AuditLog>) -> BlobExchange {
    let mut client = ClientOptions::new(vec![broker()], format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]));
    client.auth = Some(key());
    let mut opts = ExchangeOptions::new(client, topics.clone());
    opts.chunk_timeout = Duration::from_millis(500);
    opts.attempts = 2;
    opts.audit = audit;
    BlobExchange::start(opts, source).expect("blob exchange")
}

/// A holder that answers every request with the same wrong bytes.
struct Liar;

impl BlobSource for Liar {
    fn read_at(&self, _: &str, _: u64, len: usize) -> Option<Vec<u8>> {
        Some(vec![b'x'; len])
    }
}

#[test]
fn a_blob_of_several_chunks_arrives_whole_and_verified() {
    let topics = topics();
    let dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(dir.path().to_path_buf(), 64 << 20).unwrap();
    // 3.5 chunks of varied bytes: a misplaced chunk would change the digest.
    let big: Vec<u8> = (0..(CHUNK * 7 / 2)).map(|i| (i * 31 % 251) as u8).collect();
    let big_sha = sha256_hex(&big);
    cache.put(&big_sha, &big).unwrap();
    let holder = node("holder", &topics, Arc::new(cache), None);
    let dir2 = tempfile::tempdir().unwrap();
    let asker = node("asker", &topics, Arc::new(BlobCache::new(dir2.path().to_path_buf(), 1 << 20).unwrap()), None);

    let got = asker.fetch(holder.node(), &big_sha, big.len() as u64).expect("fetch");
    assert_eq!(got.len(), big.len());
    assert!(got == big, "the blob arrived with its chunks in place");
    assert_eq!(asker.fetch(holder.node(), &sha256_hex(b""), 0).unwrap(), Vec::<u8>::new());

    let missing = sha256_hex(b"nobody has this");
    let err = asker.fetch(holder.node(), &missing, 15).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("blob {missing} could not be fetched: node {0}: node {0} does not hold this blob", holder.node())
    );
    assert!(err.is_retryable());
}

#[test]
fn a_holder_that_lies_is_refused_by_the_digest() {
    let topics = topics();
    let liar = node("liar", &topics, Arc::new(Liar), None);
    let dir = tempfile::tempdir().unwrap();
    let asker = node("asker", &topics, Arc::new(BlobCache::new(dir.path().to_path_buf(), 1 << 20).unwrap()), None);
    let want = b"the real content".to_vec();
    let err = asker.fetch(liar.node(), &sha256_hex(&want), want.len() as u64).unwrap_err();
    assert!(matches!(err, BlobError::DigestMismatch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("blob {}: its content hashes to {}; refused", sha256_hex(&want), sha256_hex(&vec![b'x'; want.len()]))
    );
}

#[test]
fn an_unsigned_request_is_refused_audited_and_never_answered() {
    let topics = topics();
    let home = tempfile::tempdir().unwrap();
    let audit = AuditLog::new(home.path().join("audit.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(dir.path().to_path_buf(), 1 << 20).unwrap();
    let secret = b"workspace secret".to_vec();
    cache.put(&sha256_hex(&secret), &secret).unwrap();
    let holder = node("holder", &topics, Arc::new(cache), Some(audit.clone()));

    // A client without the key asks for the blob, naming its own reply topic.
    let mut opts = ClientOptions::new(vec![broker()], format!("intruder-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]));
    let reply = topics.blob_replies(&opts.client_id).unwrap();
    opts.subscriptions = vec![reply.clone()];
    let intruder = BusClient::connect(opts).unwrap();
    intruder.wait_ready(Duration::from_secs(10)).unwrap();
    let body = serde_json::json!({ "sha256": sha256_hex(&secret), "offset": 0, "len": 16 }).to_string();
    let props = rumqttc::v5::mqttbytes::v5::PublishProperties {
        response_topic: Some(reply),
        correlation_data: Some(bytes::Bytes::from_static(b"f:0")),
        ..Default::default()
    };
    intruder.publish(&topics.blob_requests(holder.node()).unwrap(), body.into_bytes(), props).unwrap();
    match intruder.recv_timeout(Duration::from_secs(2)) {
        taylordash::bus::client::Recv::Message(d) => panic!("the holder answered an unsigned request: {:?}", d.payload()),
        _ => {}
    }
    let text = std::fs::read_to_string(audit.path()).expect("an audit event");
    let event: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(event["capability"], "bus:unsigned");
    assert_eq!(event["decision"], "deny");
    assert!(event["detail"].as_str().unwrap().starts_with(&format!("blob message on {} refused", topics.blob_requests(holder.node()).unwrap())), "{event}");
}
