//! What the emulated site holds while it runs: issues, links, attachments,
//! tokens, the request log, counters and the faults still to inject. Tests
//! read copies of these through [`crate::JiraEmulator`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::config::Config;
use crate::limits::Limiter;

/// An issue as the site stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Id (`10001`).
    pub id: String,
    /// Key (`DTG-1`).
    pub key: String,
    /// Project key.
    pub project_key: String,
    /// Issue type id.
    pub issue_type_id: String,
    /// Issue type name.
    pub issue_type: String,
    /// Summary.
    pub summary: String,
    /// Description (ADF), if given.
    pub description: Option<Value>,
    /// Labels.
    pub labels: Vec<String>,
    /// Parent issue key.
    pub parent_key: Option<String>,
    /// Priority id (the default when none was given).
    pub priority_id: String,
    /// Assignee account id.
    pub assignee: Option<String>,
    /// Sprint id.
    pub sprint: Option<u64>,
    /// Other fields given at creation, by id (custom fields).
    pub custom_fields: BTreeMap<String, Value>,
    /// Entity properties.
    pub properties: BTreeMap<String, Value>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// When it was created.
    pub created: SystemTime,
    pub(crate) created_at: Instant,
    pub(crate) number: u64,
}

/// An attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Id.
    pub id: String,
    /// File name.
    pub file_name: String,
    /// Size in bytes.
    pub size: usize,
    /// Content type sent with the part.
    pub mime_type: String,
}

/// An issue link, as recorded: for `Blocks`, the inward issue blocks the
/// outward one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Id.
    pub id: String,
    /// Link type name (`Blocks`).
    pub type_name: String,
    /// Inward issue key.
    pub inward_key: String,
    /// Outward issue key.
    pub outward_key: String,
}

/// One request the site received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Method.
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Endpoint: method and path template (`POST /rest/api/3/issue/bulk`).
    pub endpoint: String,
    /// Status answered (0 when the answer was lost on purpose).
    pub status: u16,
    /// Request body (lossy UTF-8; multipart bodies included).
    pub body: String,
    /// Answer body.
    pub answer: String,
}

/// How a lost answer is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAnswer {
    /// The connection is closed without an answer.
    Drop,
    /// The answer is held this long (past the client's timeout).
    Delay(Duration),
    /// The request itself is held this long before Jira acts on it: the
    /// issues appear only after the client gave up (a create that outlives
    /// the client's timeout while Jira goes on creating), then the answer
    /// goes to a client no longer listening.
    LateCommit(Duration),
}

/// Faults waiting to be injected, and what was injected.
#[derive(Debug, Clone)]
pub(crate) struct FaultPlan {
    pub lose_creates: BTreeSet<u64>,
    pub lost_mode: LostAnswer,
    pub next_errors: VecDeque<u16>,
    pub endpoint_errors: HashMap<String, VecDeque<u16>>,
    pub write_forbidden: bool,
    pub tokens_expired: bool,
    pub delete_after: HashMap<String, usize>,
    pub slow_all: Duration,
    pub slow_endpoints: HashMap<String, Duration>,
    pub answers_lost: usize,
    pub errors_sent: usize,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            lose_creates: BTreeSet::new(),
            lost_mode: LostAnswer::Drop,
            next_errors: VecDeque::new(),
            endpoint_errors: HashMap::new(),
            write_forbidden: false,
            tokens_expired: false,
            delete_after: HashMap::new(),
            slow_all: Duration::ZERO,
            slow_endpoints: HashMap::new(),
            answers_lost: 0,
            errors_sent: 0,
        }
    }
}

/// An OAuth access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub expires: Instant,
}

/// Everything mutable.
#[derive(Debug)]
pub(crate) struct World {
    pub config: Config,
    pub deleted_projects: HashSet<String>,
    pub issues: Vec<Issue>,
    pub next_issue_id: u64,
    pub next_number: HashMap<String, u64>,
    pub links: Vec<Link>,
    pub next_other_id: u64,
    pub limiter: Limiter,
    pub faults: FaultPlan,
    pub creates_seen: u64,
    pub log: Vec<RequestRecord>,
    pub counts: BTreeMap<String, usize>,
    pub throttled: usize,
    pub codes: HashSet<String>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, bool>,
    pub token_serial: u64,
}

impl World {
    pub(crate) fn new(config: Config) -> Self {
        let codes = config
            .credentials
            .oauth
            .as_ref()
            .map(|o| o.authorization_codes.iter().cloned().collect())
            .unwrap_or_default();
        Self {
            limiter: Limiter::new(config.limits.clone()),
            config,
            deleted_projects: HashSet::new(),
            issues: Vec::new(),
            next_issue_id: 10_000,
            next_number: HashMap::new(),
            links: Vec::new(),
            next_other_id: 10_000,
            faults: FaultPlan::default(),
            creates_seen: 0,
            log: Vec::new(),
            counts: BTreeMap::new(),
            throttled: 0,
            codes,
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            token_serial: 0,
        }
    }

    /// A fresh id for links and attachments.
    pub(crate) fn other_id(&mut self) -> String {
        self.next_other_id += 1;
        self.next_other_id.to_string()
    }

    /// How many links an issue has, either way round (Jira allows 2,000).
    pub(crate) fn links_of(&self, key: &str) -> usize {
        self.links
            .iter()
            .filter(|l| l.inward_key == key || l.outward_key == key)
            .count()
    }

    /// Records a link; one that exists already passes silently, as in Jira.
    pub(crate) fn add_link(&mut self, type_name: String, inward_key: String, outward_key: String) {
        let duplicate = self.links.iter().any(|l| {
            l.type_name == type_name && l.inward_key == inward_key && l.outward_key == outward_key
        });
        if !duplicate {
            let id = self.other_id();
            self.links.push(Link {
                id,
                type_name,
                inward_key,
                outward_key,
            });
        }
    }

    /// The issue with this key or id.
    pub(crate) fn issue(&self, key_or_id: &str) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|i| i.key.eq_ignore_ascii_case(key_or_id) || i.id == key_or_id)
            .filter(|i| !self.deleted_projects.contains(&i.project_key))
    }

    /// The issue with this key or id, mutably.
    pub(crate) fn issue_mut(&mut self, key_or_id: &str) -> Option<&mut Issue> {
        let deleted = &self.deleted_projects;
        self.issues
            .iter_mut()
            .find(|i| i.key.eq_ignore_ascii_case(key_or_id) || i.id == key_or_id)
            .filter(|i| !deleted.contains(&i.project_key))
    }

    /// A fresh, unguessable-enough token.
    pub(crate) fn token(&mut self, kind: &str) -> String {
        self.token_serial += 1;
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        format!("{kind}-{}-{nanos:x}", self.token_serial)
    }
}
