//! Links to a trace in the Langfuse UI: `{base_url}/project/{project_id}/traces/{trace_id}`,
//! with the project id asked of the server once, on a thread of its own, and cached.
//!
//! The project is per key pair, not per client handle, so the cache is keyed by base URL and
//! public key: a second client with the same keys does not ask again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::client::Langfuse;
use crate::config::Config;
use crate::diag;
use crate::ids::TraceId;

/// Where the project lookup of one key pair stands.
#[derive(Debug, Clone)]
enum Lookup {
    /// Asked, no answer yet.
    Pending,
    /// `data[0].id` of `GET /api/public/projects`.
    Known(String),
    /// The server answered without a project, refused, or could not be reached. Not asked
    /// again: like the answer itself this is fetched once, so a broken link costs one request
    /// per process, not one per call.
    Unknown,
}

/// `(base_url, public_key)` → lookup.
static PROJECTS: Mutex<Option<HashMap<(String, String), Lookup>>> = Mutex::new(None);

impl Langfuse {
    /// The address of a trace in the Langfuse UI, as Python's `get_trace_url`:
    /// `{base_url}/project/{project_id}/traces/{trace_id}`.
    ///
    /// The project id comes from `GET {base_url}/api/public/projects` with this client's keys.
    /// The first call starts that request on a thread of its own and returns `None`; later
    /// calls return the link once the answer is in, and `None` for good when the server gave
    /// no project (or could not be reached). Without keys, or with tracing disabled, it is
    /// always `None` and nothing is sent.
    ///
    /// ```no_run
    /// use langfuse_runtime::{current_trace_id, span};
    /// let langfuse = langfuse_runtime::init()?;
    /// let root = span("request").start();
    /// if let Some(url) = root.trace_id().and_then(|id| langfuse.trace_url(id)) {
    ///     println!("trace: {url}");
    /// }
    /// # let _ = current_trace_id;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn trace_url(&self, trace_id: TraceId) -> Option<String> {
        let config = self.config();
        if !config.tracing_enabled() {
            return None;
        }
        let (public_key, secret_key) = (config.public_key()?, config.secret_key()?);
        let key = (config.base_url().to_owned(), public_key.to_owned());
        let mut projects = PROJECTS.lock().unwrap_or_else(PoisonError::into_inner);
        let projects = projects.get_or_insert_with(HashMap::new);
        match projects.get(&key) {
            Some(Lookup::Known(project_id)) => {
                Some(format!("{}/project/{project_id}/traces/{trace_id}", config.base_url()))
            }
            Some(Lookup::Pending | Lookup::Unknown) => None,
            None => {
                let request = Request::new(config, secret_key.expose());
                let spawned = std::thread::Builder::new()
                    .name("langfuse-project-id".into())
                    .spawn(move || request.run());
                // Without a thread there is no lookup, and no second try either.
                let state = if spawned.is_ok() { Lookup::Pending } else { Lookup::Unknown };
                projects.insert(key, state);
                None
            }
        }
    }
}

/// One `GET /api/public/projects`, detached from the client that asked.
struct Request {
    key: (String, String),
    url: String,
    authorization: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

impl Request {
    fn new(config: &Config, secret_key: &str) -> Self {
        use base64::Engine as _;
        let public_key = config.public_key().unwrap_or_default();
        let credentials = format!("{public_key}:{secret_key}");
        Self {
            key: (config.base_url().to_owned(), public_key.to_owned()),
            url: format!("{}/api/public/projects", config.base_url()),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
            headers: config.headers().to_vec(),
            timeout: config.timeout(),
        }
    }

    fn run(self) {
        let state = match self.fetch() {
            Ok(Some(id)) => Lookup::Known(id),
            Ok(None) => {
                diag::warn(format_args!("{} lists no project: no trace URLs", self.url));
                Lookup::Unknown
            }
            Err(error) => {
                diag::warn(format_args!("project id lookup at {} failed: {error}", self.url));
                Lookup::Unknown
            }
        };
        let mut projects = PROJECTS.lock().unwrap_or_else(PoisonError::into_inner);
        projects.get_or_insert_with(HashMap::new).insert(self.key, state);
    }

    /// `data[0].id` of the answer, `None` when the list is empty or has no id.
    fn fetch(&self) -> Result<Option<String>, String> {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .user_agent(format!("langfuse-rust/{}", crate::SDK_VERSION))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let mut request = agent.get(&self.url);
        // User headers first, ours last, so ours are the ones the server reads.
        for (name, value) in &self.headers {
            if !name.trim().eq_ignore_ascii_case("authorization") {
                request = request.header(name, value);
            }
        }
        let mut response = request
            .header("authorization", &self.authorization)
            .header("x-langfuse-sdk-name", "rust")
            .header("x-langfuse-sdk-version", crate::SDK_VERSION)
            .header("x-langfuse-public-key", &self.key.1)
            .call()
            .map_err(|e| e.to_string())?;
        let body = response.body_mut().read_to_string().map_err(|e| e.to_string())?;
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let id = json.pointer("/data/0/id").and_then(serde_json::Value::as_str);
        Ok(id.filter(|id| !id.is_empty()).map(str::to_owned))
    }
}
