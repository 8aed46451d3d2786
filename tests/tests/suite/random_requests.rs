//! Random requests for every public RPC, built from the proto descriptors and
//! sent to a real `vigild` as its admin: no answer may be INTERNAL or
//! UNKNOWN, and the server must stay up and healthy.
//!
//! `VIGIL_RANDOM_REQUEST_CASES` sets the number of requests (default 300, a
//! few seconds); `VIGIL_RANDOM_REQUEST_SEED` replays a run.

use std::time::Duration;

use bytes::{Buf, BufMut};
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    MethodDescriptor, Value,
};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use vigil_tests::{Server, admin_token_file};

/// The services users call; CoordinationService is internal (components only).
const PUBLIC: &[&str] = &[
    "vigil.catalog.v1.CatalogService",
    "vigil.catalog.v1.AccessService",
    "vigil.scheduler.v1.SchedulerService",
    "vigil.executor.v1.ExecutorService",
    "vigil.status.v1.StatusService",
];
/// How long a streaming answer is waited for; a stream that stays open is fine.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A small deterministic generator (xorshift64*), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// Strings that mean something to some field, and some that mean nothing.
const STRINGS: &[&str] = &[
    "",
    "x",
    "daily_full_backup",
    "daily_full_backup#prune",
    "../../x",
    "/srv/data",
    "relative/path",
    "*",
    "0 2 * * *",
    "61 2 * * *",
    "Europe/Berlin",
    "+02:00",
    "postgres://app@127.0.0.1:5432/app",
    "00000000-0000-0000-0000-000000000000",
];

fn random_string(rng: &mut Rng) -> String {
    match rng.below(16) {
        0 => "a".repeat(100_000),
        1 => "x\u{1b}[2J\0\u{e9}".to_owned(),
        _ => rng.pick(STRINGS).to_owned(),
    }
}

fn random_scalar(rng: &mut Rng, kind: &Kind, depth: usize) -> Value {
    match kind {
        Kind::Double => Value::F64(rng.pick(&[0.0, -1.0, 0.5, 2.0, f64::NAN, f64::INFINITY])),
        Kind::Float => Value::F32(rng.pick(&[0.0, -1.0, 0.5, 2.0, f32::NAN])),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(rng.pick(&[0, 1, -1, 7, 1000, 1001, i32::MAX, i32::MIN]))
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(rng.pick(&[
            0,
            1,
            -1,
            1_766_275_385,
            253_402_300_800,
            -62_135_596_801,
            i64::MAX,
            i64::MIN,
        ])),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(rng.pick(&[0, 1, 1000, 1001, u32::MAX])),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.pick(&[0, 1, u64::MAX])),
        Kind::Bool => Value::Bool(rng.chance(2)),
        Kind::String => Value::String(random_string(rng)),
        Kind::Bytes => Value::Bytes(random_string(rng).into_bytes().into()),
        Kind::Enum(e) => {
            let numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
            Value::EnumNumber(if rng.chance(6) {
                99
            } else {
                rng.pick(&numbers)
            })
        }
        Kind::Message(m) => Value::Message(random_message(rng, m, depth + 1)),
    }
}

fn random_field(rng: &mut Rng, field: &FieldDescriptor, depth: usize) -> Value {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("a map field's kind is its entry message")
        };
        let (key, value) = (entry.map_entry_key_field(), entry.map_entry_value_field());
        let mut map = std::collections::HashMap::new();
        for _ in 0..rng.below(3) {
            if let Value::String(k) = random_scalar(rng, &key.kind(), depth) {
                map.insert(MapKey::String(k), random_scalar(rng, &value.kind(), depth));
            }
        }
        Value::Map(map)
    } else if field.is_list() {
        Value::List(
            (0..rng.below(4))
                .map(|_| random_scalar(rng, &field.kind(), depth))
                .collect(),
        )
    } else {
        random_scalar(rng, &field.kind(), depth)
    }
}

fn random_message(rng: &mut Rng, desc: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut msg = DynamicMessage::new(desc.clone());
    if depth > 4 {
        return msg;
    }
    for field in desc.fields() {
        if rng.chance(2) {
            let value = random_field(rng, &field, depth);
            msg.set_field(&field, value);
        }
    }
    msg
}

/// Request bytes in, response bytes out: the descriptors do the typing.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// The code of one call of `method` with `body`; streams count by their first answer.
async fn call(channel: &Channel, token: &str, method: &MethodDescriptor, body: Vec<u8>) -> Code {
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let path = http::uri::PathAndQuery::try_from(path).expect("a method path");
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    if grpc.ready().await.is_err() {
        return Code::Unavailable;
    }
    let auth: MetadataValue<_> = format!("Bearer {token}").parse().expect("ascii token");
    let outcome = tokio::time::timeout(CALL_TIMEOUT, async move {
        let result = match (method.is_client_streaming(), method.is_server_streaming()) {
            (false, false) => {
                let mut req = Request::new(body);
                req.metadata_mut().insert("authorization", auth);
                grpc.unary(req, path, RawCodec).await.map(|_| ())
            }
            (false, true) => {
                let mut req = Request::new(body);
                req.metadata_mut().insert("authorization", auth);
                match grpc.server_streaming(req, path, RawCodec).await {
                    Ok(resp) => resp.into_inner().message().await.map(|_| ()),
                    Err(status) => Err(status),
                }
            }
            (true, _) => {
                let mut req = Request::new(tokio_stream::iter(vec![body]));
                req.metadata_mut().insert("authorization", auth);
                grpc.client_streaming(req, path, RawCodec).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => Code::Ok,
            Err(status) => status.code(),
        }
    })
    .await;
    outcome.unwrap_or(Code::Ok)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_never_get_internal_or_unknown_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        "vigild",
        &["--data-dir", data.to_str().unwrap()],
        &[],
        dir.path(),
    );
    let token_file = admin_token_file(&server.endpoint()).expect("the admin token file");
    let token = std::fs::read_to_string(token_file)
        .unwrap()
        .trim()
        .to_owned();
    let channel = Channel::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();

    let pool = DescriptorPool::decode(vigil_proto::FILE_DESCRIPTOR_SET).unwrap();
    let methods: Vec<MethodDescriptor> = PUBLIC
        .iter()
        .flat_map(|s| {
            let service = pool.get_service_by_name(s).expect("a public service");
            service.methods().collect::<Vec<_>>()
        })
        .collect();
    assert!(methods.len() > 30, "{} methods", methods.len());

    let seed = env_number("VIGIL_RANDOM_REQUEST_SEED", 0x5eed_1234_abcd_0001).max(1);
    let cases = env_number("VIGIL_RANDOM_REQUEST_CASES", 300) as usize;
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    for case in 0..cases.max(methods.len()) {
        // Every method at least once, then at random.
        let method = match methods.get(case) {
            Some(m) => m.clone(),
            None => rng.pick(&methods),
        };
        let request = random_message(&mut rng, &method.input(), 0);
        let code = call(&channel, &token, &method, request.encode_to_vec()).await;
        if matches!(code, Code::Internal | Code::Unknown) {
            failures.push(format!("{}: {code:?} for {request:?}", method.full_name()));
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed:#x}: {} bad answers, first: {}\nserver log:\n{}",
        failures.len(),
        failures[0].chars().take(2000).collect::<String>(),
        server
            .log()
            .chars()
            .rev()
            .take(4000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );

    // Still up: the health check answers SERVING (field 1 = 1).
    let health = pool_free_health_check(&channel).await;
    assert_eq!(
        health,
        Ok(vec![0x08, 0x01]),
        "health after {cases} random requests"
    );
}

async fn pool_free_health_check(channel: &Channel) -> Result<Vec<u8>, Code> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.map_err(|_| Code::Unavailable)?;
    let path = http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    grpc.unary(Request::new(Vec::new()), path, RawCodec)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| s.code())
}
