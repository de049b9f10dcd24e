//! CloudWatch through the twin, kept by moto. The SDK speaks Smithy RPC v2 CBOR to CloudWatch
//! (`POST /service/GraniteServiceVersion20100801/operation/<Operation>`), which moto does not read;
//! moto reads the same operations in AWS JSON 1.0. The twin turns the request's CBOR into JSON,
//! asks moto, and turns moto's answer (or error) back into CBOR, so a CloudWatch client pointed at
//! the twin (`AWS_ENDPOINT_URL_CLOUDWATCH`) puts and reads metrics in moto.
//!
//! Only the operations `ops doctor` and its tests use are bridged (`PutMetricData`,
//! `GetMetricStatistics`): CBOR types an answer's numbers where JSON does not, and in those two
//! every number of an answer is a timestamp (member `Timestamp`) or a double (botocore's model of
//! CloudWatch). Any other operation is `UnknownOperationException`, as the protocol answers an
//! operation a service does not have. Calls are logged (`/_twin/calls`, service `cloudwatch`) and
//! take fault rules like the twin's own operations.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value as Json};

use crate::aws::pipeline;
use crate::netio::ConnHandle;
use crate::twin::Shared;

const SERVICE: &str = "cloudwatch";
/// CloudWatch's Smithy service name: the path segment of RPC v2 and the prefix of JSON's target.
const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
const BRIDGED: &[&str] = &["PutMetricData", "GetMetricStatistics"];

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route(
        &format!("/service/{TARGET_PREFIX}/operation/{{operation}}"),
        post(serve),
    )
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path(operation): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // As for the twin's own operations: a caller hanging up does not stop the request.
    crate::measure::detached(async move {
        let action = match pipeline::before(&shared, &conn, SERVICE, &operation).await {
            Ok(action) => action,
            Err(resp) => return resp,
        };
        let (status, code, resp) = match &action.error {
            Some(err) => {
                let status = if err.code == "InternalServiceError" { 500 } else { 400 };
                (status, Some(err.code.clone()), error(status, &err.code, &err.message))
            }
            None => answer(&shared, &operation, &headers, &body).await,
        };
        pipeline::after(
            &shared,
            &conn,
            (SERVICE, &operation),
            &action,
            status,
            code.as_deref(),
            resp,
        )
    })
    .await
}

/// Status, error code and response of one bridged call.
async fn answer(shared: &Shared, operation: &str, headers: &HeaderMap, body: &[u8]) -> (u16, Option<String>, Response) {
    let fail = |status: u16, code: &str, message: &str| (status, Some(code.to_owned()), error(status, code, message));
    if !BRIDGED.contains(&operation) {
        return fail(
            404,
            "UnknownOperationException",
            "the twin bridges PutMetricData and GetMetricStatistics only",
        );
    }
    let Some(moto) = shared.moto_url() else {
        return fail(
            503,
            "ServiceUnavailable",
            "the twin has no moto to keep CloudWatch's metrics",
        );
    };
    let input = match decode(headers, body) {
        Ok(json) => json,
        Err(why) => return fail(400, "SerializationException", &why),
    };
    // One client for every call; moto is on loopback, so no proxy the environment names applies.
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let http = HTTP.get_or_init(|| reqwest::Client::builder().no_proxy().build().unwrap_or_default());
    let mut request = http
        .post(format!("{moto}/"))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("{TARGET_PREFIX}.{operation}"))
        .body(input.to_string());
    // moto tells the service by the signature's credential scope (`…/monitoring/aws4_request`).
    if let Some(auth) = headers.get("authorization") {
        request = request.header("authorization", auth);
    }
    let answer = match request.send().await {
        Ok(a) => a,
        Err(e) => return fail(502, "MotoUnreachable", &e.to_string()),
    };
    let status = answer.status().as_u16();
    let query_error = answer.headers().get("x-amzn-query-error").cloned();
    let json: Json = answer.json().await.unwrap_or(Json::Null);
    if status >= 400 {
        let code = json["__type"].as_str().unwrap_or("InternalServiceError");
        let code = code.rsplit('#').next().unwrap_or(code);
        let message = json["message"]
            .as_str()
            .or(json["Message"].as_str())
            .unwrap_or_default();
        let mut resp = error(status, code, message);
        if let Some(q) = query_error {
            resp.headers_mut().insert("x-amzn-query-error", q);
        }
        return (status, Some(code.to_owned()), resp);
    }
    (status, None, cbor_response(StatusCode::OK, &to_cbor(&json, None)))
}

/// The request's input as JSON: CBOR (gzip-compressed if the SDK compressed it); no body is no
/// input.
fn decode(headers: &HeaderMap, body: &[u8]) -> Result<Json, String> {
    let gzipped = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let mut plain = Vec::new();
    let body = if gzipped {
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .map_err(|e| format!("the gzip body does not decompress: {e}"))?;
        &plain[..]
    } else {
        body
    };
    if body.is_empty() {
        return Ok(Json::Object(Map::new()));
    }
    let value: Cbor = ciborium::from_reader(body).map_err(|e| format!("the body is not CBOR: {e}"))?;
    match to_json(value)? {
        object @ Json::Object(_) => Ok(object),
        _ => Err("the body is not a CBOR map".into()),
    }
}

/// CBOR as AWS JSON writes the same values: a timestamp (tag 1) as epoch seconds, a blob base64.
fn to_json(value: Cbor) -> Result<Json, String> {
    Ok(match value {
        Cbor::Null => Json::Null,
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Text(s) => Json::String(s),
        Cbor::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Integer(i) => {
            let i = i128::from(i);
            i64::try_from(i)
                .map(Number::from)
                .or_else(|_| u64::try_from(i).map(Number::from))
                .map(Json::Number)
                .map_err(|_| format!("integer {i} out of range"))?
        }
        Cbor::Float(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
        Cbor::Tag(1, inner) => to_json(*inner)?,
        Cbor::Tag(tag, _) => return Err(format!("CBOR tag {tag} is not one Smithy uses")),
        Cbor::Array(items) => Json::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Cbor::Map(entries) => Json::Object(
            entries
                .into_iter()
                .map(|(k, v)| match k {
                    Cbor::Text(k) => Ok((k, to_json(v)?)),
                    _ => Err("a map key is not text".to_owned()),
                })
                .collect::<Result<_, String>>()?,
        ),
        other => return Err(format!("unexpected CBOR value {other:?}")),
    })
}

/// moto's JSON answer as CBOR; `member` is the name the value is under. Numbers under `Timestamp`
/// are timestamps, every other number a double (see the module's note).
fn to_cbor(value: &Json, member: Option<&str>) -> Cbor {
    match value {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(*b),
        Json::String(s) => Cbor::Text(s.clone()),
        Json::Number(n) => {
            let f = Cbor::Float(n.as_f64().unwrap_or_default());
            if member == Some("Timestamp") {
                Cbor::Tag(1, Box::new(f))
            } else {
                f
            }
        }
        Json::Array(items) => Cbor::Array(items.iter().map(|v| to_cbor(v, member)).collect()),
        Json::Object(map) => Cbor::Map(
            map.iter()
                .map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(v, Some(k))))
                .collect(),
        ),
    }
}

fn cbor_response(status: StatusCode, value: &Cbor) -> Response {
    let mut body = Vec::new();
    // Writing CBOR into a Vec cannot fail.
    let _ = ciborium::into_writer(value, &mut body);
    (
        status,
        [("content-type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")],
        body,
    )
        .into_response()
}

/// An RPC v2 CBOR error: `__type` names the shape, as CloudWatch's namespace writes it.
fn error(status: u16, code: &str, message: &str) -> Response {
    let body = Cbor::Map(vec![
        (
            Cbor::Text("__type".into()),
            Cbor::Text(format!("com.amazonaws.cloudwatch#{code}")),
        ),
        (Cbor::Text("message".into()), Cbor::Text(message.into())),
    ]);
    cbor_response(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cbor(value: &Cbor) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    fn text(s: &str) -> Cbor {
        Cbor::Text(s.into())
    }

    #[test]
    fn a_request_reads_as_aws_json_writes_it() {
        let request = Cbor::Map(vec![
            (text("Namespace"), text("AWS/SNS")),
            (text("StartTime"), Cbor::Tag(1, Box::new(Cbor::Float(1_700_000_000.5)))),
            (text("Period"), Cbor::Integer(86_400.into())),
            (text("Statistics"), Cbor::Array(vec![text("Sum")])),
            (text("Blob"), Cbor::Bytes(b"hi".to_vec())),
        ]);
        let json = decode(&HeaderMap::new(), &cbor(&request)).unwrap();
        assert_eq!(
            json,
            json!({"Namespace": "AWS/SNS", "StartTime": 1_700_000_000.5, "Period": 86_400,
                   "Statistics": ["Sum"], "Blob": "aGk="})
        );
        assert_eq!(decode(&HeaderMap::new(), b"").unwrap(), json!({}));
        assert!(decode(&HeaderMap::new(), &cbor(&text("x"))).is_err());
        assert!(decode(&HeaderMap::new(), b"\xff\x00").is_err());
        assert!(to_json(Cbor::Tag(2, Box::new(Cbor::Null))).is_err());
    }

    #[test]
    fn a_gzipped_request_is_decompressed() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&cbor(&Cbor::Map(vec![(text("Namespace"), text("n"))])))
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-encoding", "gzip".parse().unwrap());
        assert_eq!(
            decode(&headers, &gz.finish().unwrap()).unwrap(),
            json!({"Namespace": "n"})
        );
    }

    #[test]
    fn an_answer_has_timestamps_and_doubles_where_the_model_does() {
        let moto = json!({"Label": "NumberOfNotificationsFailed",
                          "Datapoints": [{"Timestamp": 1_796_688_311, "Sum": 3.0, "SampleCount": 1}]});
        let get = |map: &Cbor, key: &str| -> Cbor {
            let Cbor::Map(entries) = map else { panic!("not a map") };
            entries.iter().find(|(k, _)| k == &text(key)).expect(key).1.clone()
        };
        let answer = to_cbor(&moto, None);
        assert_eq!(get(&answer, "Label"), text("NumberOfNotificationsFailed"));
        let Cbor::Array(points) = get(&answer, "Datapoints") else {
            panic!("no datapoints")
        };
        assert_eq!(
            get(&points[0], "Timestamp"),
            Cbor::Tag(1, Box::new(Cbor::Float(1_796_688_311.0)))
        );
        assert_eq!(get(&points[0], "Sum"), Cbor::Float(3.0));
        assert_eq!(get(&points[0], "SampleCount"), Cbor::Float(1.0));
    }
}
