//! What the emulated Jira site holds when it starts: projects with their issue
//! types and create screens, priorities, users, boards and sprints, link
//! types, the credentials it accepts, and its rate limits.
//!
//! [`Config::default`] is a small, realistic site: project `DTG` with Epic,
//! Story, Task, Bug and Subtask, the five standard priorities, three users,
//! one board with an active and a future sprint, Jira's four default link
//! types, and Jira Cloud's documented rate limits.

use std::time::Duration;

use crate::limits::Limits;

/// Field id of the Sprint custom field on the default site.
pub const SPRINT_FIELD: &str = "customfield_10020";
/// Field id of the "Story point estimate" custom field on the default site.
pub const STORY_POINTS_FIELD: &str = "customfield_10016";

/// The API token the default credentials accept for [`DEFAULT_EMAIL`].
pub const DEFAULT_API_TOKEN: &str = "api-token-dtg";
/// The email of the default user.
pub const DEFAULT_EMAIL: &str = "builder@example.com";
/// The personal access token the default credentials accept.
pub const DEFAULT_PAT: &str = "pat-dtg";
/// The OAuth client id the default credentials accept.
pub const DEFAULT_CLIENT_ID: &str = "dtg-client";
/// The OAuth client secret the default credentials accept.
pub const DEFAULT_CLIENT_SECRET: &str = "dtg-secret";
/// The cloud id of the emulated site.
pub const DEFAULT_CLOUD_ID: &str = "11111111-2222-3333-4444-555555555555";
/// An authorization code the default credentials accept (once).
pub const DEFAULT_AUTH_CODE: &str = "auth-code-dtg";

/// The whole site.
#[derive(Debug, Clone)]
pub struct Config {
    /// Projects.
    pub projects: Vec<ProjectConfig>,
    /// Priorities, in Jira's order (highest first).
    pub priorities: Vec<PriorityConfig>,
    /// Users; the first is the one the credentials sign in as.
    pub users: Vec<UserConfig>,
    /// Issue link types.
    pub link_types: Vec<LinkTypeConfig>,
    /// Credentials the site accepts.
    pub credentials: Credentials,
    /// Rate limits.
    pub limits: Limits,
    /// Issues created less than this long ago are not found by JQL search
    /// unless named in `reconcileIssues` (Jira's search is eventually
    /// consistent). Zero by default.
    pub search_lag: Duration,
    /// Largest attachment accepted, in bytes (Jira Cloud's default is 1 GB;
    /// smaller here so tests can reach it).
    pub max_attachment_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            projects: vec![ProjectConfig::standard(
                "10000",
                "DTG",
                "Drupal Ticket Generator",
            )],
            priorities: PriorityConfig::standard(),
            users: UserConfig::standard(),
            link_types: LinkTypeConfig::standard(),
            credentials: Credentials::default(),
            limits: Limits::jira_cloud(),
            search_lag: Duration::ZERO,
            max_attachment_bytes: 10 * 1024 * 1024,
        }
    }
}

impl Config {
    /// The default site with rate limits off.
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            limits: Limits::off(),
            ..Self::default()
        }
    }

    /// This configuration with other rate limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The project with this key, mutably (to adjust the default site).
    pub fn project_mut(&mut self, key: &str) -> Option<&mut ProjectConfig> {
        self.projects.iter_mut().find(|p| p.key == key)
    }
}

/// A project.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// Id (`10000`).
    pub id: String,
    /// Key (`DTG`).
    pub key: String,
    /// Name.
    pub name: String,
    /// Issue types with their create screens.
    pub issue_types: Vec<IssueTypeConfig>,
    /// Boards of the project, with their sprints.
    pub boards: Vec<BoardConfig>,
    /// Account ids of the users who can be assigned issues here.
    pub assignable: Vec<String>,
}

impl ProjectConfig {
    /// A company-managed software project: Epic, Story, Task, Bug, Subtask;
    /// one Scrum board with an active and a future sprint; the standard
    /// users assignable.
    #[must_use]
    pub fn standard(id: &str, key: &str, name: &str) -> Self {
        let types = [
            ("10000", "Epic", 1),
            ("10001", "Story", 0),
            ("10002", "Task", 0),
            ("10003", "Bug", 0),
            ("10004", "Subtask", -1),
        ];
        Self {
            id: id.to_owned(),
            key: key.to_owned(),
            name: name.to_owned(),
            issue_types: types
                .iter()
                .map(|&(id, name, level)| IssueTypeConfig::standard(id, name, level))
                .collect(),
            boards: vec![BoardConfig {
                id: 1,
                name: format!("{key} board"),
                sprints: vec![
                    SprintConfig::new(1, &format!("{key} Sprint 1"), "closed"),
                    SprintConfig::new(2, &format!("{key} Sprint 2"), "active"),
                    SprintConfig::new(3, &format!("{key} Sprint 3"), "future"),
                ],
            }],
            assignable: UserConfig::standard()
                .into_iter()
                .map(|u| u.account_id)
                .collect(),
        }
    }

    /// The issue type with this name, mutably.
    pub fn issue_type_mut(&mut self, name: &str) -> Option<&mut IssueTypeConfig> {
        self.issue_types.iter_mut().find(|t| t.name == name)
    }
}

/// An issue type and the fields of its create screen.
#[derive(Debug, Clone)]
pub struct IssueTypeConfig {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether it is a sub-task type.
    pub subtask: bool,
    /// 1 for epics, 0 for standard types, -1 for sub-tasks.
    pub hierarchy_level: i32,
    /// Fields of the create screen; any other field id is refused.
    pub fields: Vec<FieldConfig>,
}

impl IssueTypeConfig {
    /// The create screen Jira Cloud gives a type of this hierarchy level in
    /// a company-managed software project.
    #[must_use]
    pub fn standard(id: &str, name: &str, hierarchy_level: i32) -> Self {
        let mut fields = vec![
            FieldConfig::system("summary", "Summary", true, false, "string"),
            FieldConfig::system("issuetype", "Issue Type", true, false, "issuetype"),
            FieldConfig::system("project", "Project", true, false, "project"),
            FieldConfig::system("description", "Description", false, false, "string"),
            FieldConfig::system("reporter", "Reporter", true, true, "user"),
            FieldConfig::system("priority", "Priority", false, true, "priority"),
            FieldConfig::system("labels", "Labels", false, false, "array").items("string"),
            FieldConfig::system("assignee", "Assignee", false, false, "user"),
            FieldConfig::system("issuelinks", "Linked Issues", false, false, "array")
                .items("issuelinks"),
        ];
        if hierarchy_level <= 0 {
            fields.push(FieldConfig::system(
                "parent",
                "Parent",
                hierarchy_level < 0,
                false,
                "issuelink",
            ));
            fields.push(
                FieldConfig::custom(
                    SPRINT_FIELD,
                    "Sprint",
                    "array",
                    "com.pyxis.greenhopper.jira:gh-sprint",
                    10020,
                )
                .items("json"),
            );
            fields.push(FieldConfig::custom(
                STORY_POINTS_FIELD,
                "Story point estimate",
                "number",
                "com.pyxis.greenhopper.jira:jsw-story-points",
                10016,
            ));
        }
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            subtask: hierarchy_level < 0,
            hierarchy_level,
            fields,
        }
    }

    /// Adds a field to the create screen (e.g. a required custom field).
    #[must_use]
    pub fn with_field(mut self, field: FieldConfig) -> Self {
        self.fields.push(field);
        self
    }
}

/// A field of a create screen.
#[derive(Debug, Clone)]
pub struct FieldConfig {
    /// Field id (`summary`, `customfield_10020`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether a create must give it.
    pub required: bool,
    /// Whether Jira fills it in when left out.
    pub has_default: bool,
    /// Schema type (`string`, `array`, `user`, ...).
    pub schema_type: String,
    /// Item type for arrays.
    pub items: Option<String>,
    /// System field name, for system fields.
    pub system: Option<String>,
    /// Custom field type key, for custom fields.
    pub custom: Option<String>,
    /// Custom field number, for custom fields.
    pub custom_id: Option<u64>,
}

impl FieldConfig {
    /// A system field.
    #[must_use]
    pub fn system(
        id: &str,
        name: &str,
        required: bool,
        has_default: bool,
        schema_type: &str,
    ) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            required,
            has_default,
            schema_type: schema_type.to_owned(),
            items: None,
            system: Some(id.to_owned()),
            custom: None,
            custom_id: None,
        }
    }

    /// An optional custom field.
    #[must_use]
    pub fn custom(id: &str, name: &str, schema_type: &str, custom: &str, custom_id: u64) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            required: false,
            has_default: false,
            schema_type: schema_type.to_owned(),
            items: None,
            system: None,
            custom: Some(custom.to_owned()),
            custom_id: Some(custom_id),
        }
    }

    /// A required single-line text custom field (`Team`, say).
    #[must_use]
    pub fn required_text(id: &str, name: &str) -> Self {
        let number = id
            .strip_prefix("customfield_")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Self {
            required: true,
            ..Self::custom(
                id,
                name,
                "string",
                "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
                number,
            )
        }
    }

    /// This field with an item type (for arrays).
    #[must_use]
    pub fn items(mut self, items: &str) -> Self {
        self.items = Some(items.to_owned());
        self
    }
}

/// A priority.
#[derive(Debug, Clone)]
pub struct PriorityConfig {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether it is the default.
    pub is_default: bool,
}

impl PriorityConfig {
    /// Jira Cloud's five: Highest (1) to Lowest (5), Medium the default.
    #[must_use]
    pub fn standard() -> Vec<Self> {
        ["Highest", "High", "Medium", "Low", "Lowest"]
            .iter()
            .enumerate()
            .map(|(i, name)| Self {
                id: (i + 1).to_string(),
                name: (*name).to_owned(),
                is_default: *name == "Medium",
            })
            .collect()
    }
}

/// A user.
#[derive(Debug, Clone)]
pub struct UserConfig {
    /// Account id.
    pub account_id: String,
    /// Display name.
    pub display_name: String,
    /// Email (shown when the user's privacy settings allow).
    pub email: Option<String>,
}

impl UserConfig {
    /// Three users: the builder (who signs in), a developer and a tester.
    #[must_use]
    pub fn standard() -> Vec<Self> {
        vec![
            Self {
                account_id: "5b10a2844c20165700ede21g".to_owned(),
                display_name: "Site Builder".to_owned(),
                email: Some(DEFAULT_EMAIL.to_owned()),
            },
            Self {
                account_id: "5b10ac8d82e05b22cc7d4ef5".to_owned(),
                display_name: "Dana Developer".to_owned(),
                email: Some("dana@example.com".to_owned()),
            },
            Self {
                account_id: "5b10ac8d82e05b22cc7d4ef6".to_owned(),
                display_name: "Theo Tester".to_owned(),
                email: None,
            },
        ]
    }
}

/// A board and its sprints.
#[derive(Debug, Clone)]
pub struct BoardConfig {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Sprints.
    pub sprints: Vec<SprintConfig>,
}

/// A sprint.
#[derive(Debug, Clone)]
pub struct SprintConfig {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `active`, `future` or `closed`.
    pub state: String,
}

impl SprintConfig {
    /// A sprint.
    #[must_use]
    pub fn new(id: u64, name: &str, state: &str) -> Self {
        Self {
            id,
            name: name.to_owned(),
            state: state.to_owned(),
        }
    }
}

/// An issue link type.
#[derive(Debug, Clone)]
pub struct LinkTypeConfig {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Inward description.
    pub inward: String,
    /// Outward description.
    pub outward: String,
}

impl LinkTypeConfig {
    /// Jira Cloud's defaults: Blocks, Cloners, Duplicate, Relates.
    #[must_use]
    pub fn standard() -> Vec<Self> {
        [
            ("10000", "Blocks", "is blocked by", "blocks"),
            ("10001", "Cloners", "is cloned by", "clones"),
            ("10002", "Duplicate", "is duplicated by", "duplicates"),
            ("10003", "Relates", "relates to", "relates to"),
        ]
        .iter()
        .map(|&(id, name, inward, outward)| Self {
            id: id.to_owned(),
            name: name.to_owned(),
            inward: inward.to_owned(),
            outward: outward.to_owned(),
        })
        .collect()
    }
}

/// The credentials the site accepts.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Basic authentication: (email, API token).
    pub api_tokens: Vec<(String, String)>,
    /// Bearer personal access tokens.
    pub personal_access_tokens: Vec<String>,
    /// The OAuth 2.0 (3LO) app, when OAuth is on.
    pub oauth: Option<OAuthApp>,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            api_tokens: vec![(DEFAULT_EMAIL.to_owned(), DEFAULT_API_TOKEN.to_owned())],
            personal_access_tokens: vec![DEFAULT_PAT.to_owned()],
            oauth: Some(OAuthApp::default()),
        }
    }
}

/// An OAuth 2.0 (3LO) app and the site it is installed on.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Cloud id of the site (`/ex/jira/{cloudid}`).
    pub cloud_id: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// Authorization codes the token endpoint accepts, once each.
    pub authorization_codes: Vec<String>,
    /// Lifetime of an access token.
    pub access_token_ttl: Duration,
}

impl Default for OAuthApp {
    fn default() -> Self {
        Self {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            cloud_id: DEFAULT_CLOUD_ID.to_owned(),
            scopes: [
                "read:jira-work",
                "write:jira-work",
                "read:jira-user",
                "offline_access",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            authorization_codes: vec![DEFAULT_AUTH_CODE.to_owned()],
            access_token_ttl: Duration::from_secs(3600),
        }
    }
}
