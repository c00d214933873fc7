//! The ids of the invocation being served, for every line it logs.
//!
//! Set once per invocation with [`Invocation::scope`] around the handler's
//! future (a tokio task-local, so concurrent requests in the local stack
//! keep their own ids), and read by the log formatter and the EMF lines.

use std::future::Future;

use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static CURRENT: Invocation;
}

/// Who to blame a line on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The Lambda request id (the local stack: its own request id).
    pub request_id: String,
    /// API Gateway's request id, where the event carries it.
    pub api_request_id: Option<String>,
    /// The X-Ray trace header of the invocation, where there is one.
    pub trace_id: Option<String>,
}

impl Invocation {
    /// Runs `f` with `self` as the current invocation.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }

    /// `f` with `self` as the current invocation whenever it is polled (a
    /// nameable future, for a `tower::Service`).
    pub fn scoped<F: Future>(self, f: F) -> TaskLocalFuture<Invocation, F> {
        CURRENT.scope(self, f)
    }

    /// Calls `f` with `self` as the current invocation.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }

    /// A copy of the current invocation's ids, if there is one.
    pub fn current() -> Option<Invocation> {
        CURRENT.try_with(Invocation::clone).ok()
    }

    /// Writes the current invocation's ids (nothing outside an invocation)
    /// as members of the JSON line being written into `out` (from its
    /// start).
    pub fn write_current(out: &mut String) {
        let _ = CURRENT.try_with(|inv| inv.write_members(out));
    }

    /// Writes the ids as members of the JSON line being written into `out`
    /// (each `,"name":"value"`). `out` holds the line from its start: each
    /// id is bounded as every value of a line is (`emf::MAX_VALUE`, and the
    /// room left in `emf::MAX_LINE`), for a forged event's ids are text its
    /// sender chose.
    pub fn write_members(&self, out: &mut String) {
        let mut member = |name: &str, value: &str| {
            out.push(',');
            crate::emf::push_json_str(out, name);
            out.push(':');
            let room = crate::emf::line_room(out.len());
            crate::emf::push_json_str_bounded(out, value, room.min(crate::emf::MAX_VALUE));
        };
        member("requestId", &self.request_id);
        if let Some(id) = &self.api_request_id {
            member("apiRequestId", id);
        }
        if let Some(id) = &self.trace_id {
            member("xrayTraceId", id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ids_are_those_of_the_scope_and_none_outside() {
        assert_eq!(Invocation::current(), None);
        let inv = Invocation {
            request_id: "r1".into(),
            api_request_id: Some("a1".into()),
            trace_id: None,
        };
        let seen = inv
            .clone()
            .scope(async {
                tokio::task::yield_now().await;
                Invocation::current()
            })
            .await;
        assert_eq!(seen, Some(inv));
        let mut out = String::new();
        seen.unwrap_or_default().write_members(&mut out);
        assert_eq!(out, r#","requestId":"r1","apiRequestId":"a1""#);
    }
}
