//! What fault rules do to a call around its operation: added latency, a dropped connection, a
//! killed caller before the call is applied, a lost answer after it was applied. Shared by the
//! twin's own operations and the moto proxy, so every service gets the same faults.
//!
//! A call runs to its end whether or not its caller still waits (see [`crate::measure::detached`]),
//! as AWS finishes a request it received: latency longer than an SDK's attempt timeout delays the
//! effect, it does not cancel it.

use axum::response::{IntoResponse, Response};

use super::record;
use crate::faults::FaultAction;
use crate::netio::ConnHandle;
use crate::twin::Shared;

/// Decides the call's fate and plays the part that comes before the operation. `Err` carries the
/// response of a call that ends here (connection dropped, caller killed); `Ok` the action the
/// operation must still honour (`error`, `expire_token`, `lose_answer`).
pub(crate) async fn before(
    shared: &Shared,
    conn: &ConnHandle,
    service: &str,
    operation: &str,
) -> Result<FaultAction, Response> {
    let action = shared.faults().on_call(service, operation);
    if action.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(action.latency_ms)).await;
    }
    if action.kill_caller {
        let outcome = match crate::measure::caller_pid(shared, conn).await {
            Some(pid) => {
                tracing::info!("fault: killing handler process {pid} before its {service} {operation}");
                crate::lambda::kill_group(pid);
                "CallerKilled"
            }
            None => {
                tracing::warn!("fault: no handler process owns this {service} {operation} call; dropping it");
                "CallerUnknown"
            }
        };
        conn.kill();
        record(shared, service, operation, 0, Some(outcome));
        return Err(().into_response());
    }
    if action.drop_connection {
        conn.kill();
        record(shared, service, operation, 0, Some("ConnectionDropped"));
        return Err(().into_response());
    }
    Ok(action)
}

/// Ends a call the operation has served: records it with its status and error code, and under a
/// `lose_answer` fault drops the connection instead of answering (recorded as `AnswerLost`, with
/// the status the operation had).
pub(crate) fn after(
    shared: &Shared,
    conn: &ConnHandle,
    (service, operation): (&str, &str),
    action: &FaultAction,
    status: u16,
    error: Option<&str>,
    resp: Response,
) -> Response {
    if action.lose_answer {
        conn.kill();
        record(shared, service, operation, status, Some("AnswerLost"));
        return ().into_response();
    }
    record(shared, service, operation, status, error);
    resp
}
