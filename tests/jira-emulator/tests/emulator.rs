//! The Jira emulator driven over HTTP by a plain client: each endpoint's
//! happy path in Jira's shapes (checked against the response schemas of
//! Jira's OpenAPI document), each refusal with Jira's error body, rate
//! limits with their headers, each injectable fault, and OAuth token
//! rotation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dtg_jira_emulator::config::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PAT, SPRINT_FIELD,
};
use dtg_jira_emulator::{
    Burst, Config, FieldConfig, JiraEmulator, Limits, LostAnswer, PerIssue, Quota, schema_validator,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

struct Site {
    emu: JiraEmulator,
    http: reqwest::Client,
    auth: String,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn site(config: Config) -> Site {
    let emu = JiraEmulator::start(config).await.expect("emulator starts");
    let auth = emu.basic_auth();
    // rustls on ring, as the product's clients use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Site {
        emu,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
        auth,
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    async fn get(&self, path: &str) -> Reply {
        let r = self
            .http
            .get(self.url(path))
            .header("Authorization", &self.auth)
            .send()
            .await;
        reply(r.unwrap()).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        let r = self
            .http
            .post(self.url(path))
            .header("Authorization", &self.auth)
            .json(body)
            .send()
            .await;
        reply(r.unwrap()).await
    }

    async fn put(&self, path: &str, body: &Value) -> Reply {
        let r = self
            .http
            .put(self.url(path))
            .header("Authorization", &self.auth)
            .json(body)
            .send()
            .await;
        reply(r.unwrap()).await
    }

    async fn create(&self, fields: Value) -> Reply {
        self.post("/rest/api/3/issue", &json!({"fields": fields}))
            .await
    }

    async fn attach(&self, key: &str, name: &str, content: &[u8], xsrf: bool) -> Reply {
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
        let mut request = self
            .http
            .post(self.url(&format!("/rest/api/3/issue/{key}/attachments")))
            .header("Authorization", &self.auth)
            .header("Content-Type", "multipart/form-data; boundary=BOUNDARY")
            .body(body);
        if xsrf {
            request = request.header("X-Atlassian-Token", "no-check");
        }
        reply(request.send().await.unwrap()).await
    }
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

fn story(summary: &str) -> Value {
    json!({
        "project": {"key": "DTG"},
        "issuetype": {"id": "10001"},
        "summary": summary,
        "description": adf("Build it."),
        "labels": ["dtg-run-1"],
    })
}

fn conforms(schema: &str, value: &Value) {
    let validator = schema_validator(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema}: {errors:?}\n{value:#}");
}

fn field_error<'a>(r: &'a Reply, field: &str) -> &'a str {
    r.body["errors"][field]
        .as_str()
        .unwrap_or_else(|| panic!("no error for {field}: {}", r.body))
}

// ------------------------------------------------------------ reading the site

#[tokio::test]
async fn the_site_describes_itself_in_jiras_shapes() {
    let s = site(Config::unlimited()).await;

    let me = s.get("/rest/api/3/myself").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["emailAddress"], "builder@example.com");
    conforms("User", &me.body);

    let project = s.get("/rest/api/3/project/DTG").await;
    assert_eq!(project.status, 200);
    conforms("Project", &project.body);
    let types = project.body["issueTypes"].as_array().unwrap();
    let epic = types.iter().find(|t| t["name"] == "Epic").unwrap();
    assert_eq!(epic["hierarchyLevel"], 1);
    let sub = types.iter().find(|t| t["name"] == "Subtask").unwrap();
    assert_eq!(
        (sub["subtask"].as_bool(), sub["hierarchyLevel"].as_i64()),
        (Some(true), Some(-1))
    );

    let metatypes = s.get("/rest/api/3/issue/createmeta/DTG/issuetypes").await;
    conforms("PageOfCreateMetaIssueTypes", &metatypes.body);
    assert_eq!(metatypes.body["total"], 5);

    let fields = s
        .get("/rest/api/3/issue/createmeta/DTG/issuetypes/10001?maxResults=3")
        .await;
    conforms("PageOfCreateMetaIssueTypeWithField", &fields.body);
    assert_eq!(fields.body["fields"].as_array().unwrap().len(), 3);
    let all = s
        .get("/rest/api/3/issue/createmeta/DTG/issuetypes/10001?maxResults=50")
        .await;
    let sprint = all.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fieldId"] == SPRINT_FIELD)
        .unwrap();
    assert_eq!(
        sprint["schema"]["custom"],
        "com.pyxis.greenhopper.jira:gh-sprint"
    );
    assert_eq!(sprint["hasDefaultValue"], false);

    let priorities = s.get("/rest/api/3/priority/search?maxResults=2").await;
    conforms("PageBeanPriority", &priorities.body);
    assert_eq!(
        (
            priorities.body["total"].as_u64(),
            priorities.body["isLast"].as_bool()
        ),
        (Some(5), Some(false))
    );
    let plain = s.get("/rest/api/3/priority").await;
    assert_eq!(plain.body.as_array().unwrap().len(), 5);
    for p in plain.body.as_array().unwrap() {
        conforms("Priority", p);
    }
    assert!(
        plain
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Medium" && p["isDefault"] == true)
    );

    let users = s
        .get("/rest/api/3/user/assignable/search?project=DTG")
        .await;
    assert_eq!(users.body.as_array().unwrap().len(), 3);
    conforms("User", &users.body[0]);

    let links = s.get("/rest/api/3/issueLinkType").await;
    conforms("IssueLinkTypes", &links.body);
    let blocks = links.body["issueLinkTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Blocks")
        .unwrap();
    assert_eq!(
        (blocks["inward"].as_str(), blocks["outward"].as_str()),
        (Some("is blocked by"), Some("blocks"))
    );

    let boards = s.get("/rest/agile/1.0/board?projectKeyOrId=DTG").await;
    assert_eq!(boards.body["values"][0]["location"]["projectKey"], "DTG");
    let board = boards.body["values"][0]["id"].as_u64().unwrap();
    let sprints = s
        .get(&format!(
            "/rest/agile/1.0/board/{board}/sprint?state=active,future"
        ))
        .await;
    let states: Vec<&str> = sprints.body["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "future"]);

    let missing = s.get("/rest/api/3/project/NOPE").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body["errorMessages"][0],
        "No project could be found with key 'NOPE'."
    );
    conforms("ErrorCollection", &missing.body);
}

#[tokio::test]
async fn credentials_are_checked() {
    let s = site(Config::unlimited()).await;
    let none = reply(
        s.http
            .get(s.url("/rest/api/3/myself"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.body["errorMessages"][0],
        "Client must be authenticated to access this resource."
    );
    let wrong = reply(
        s.http
            .get(s.url("/rest/api/3/myself"))
            .basic_auth("builder@example.com", Some("wrong"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let right = reply(
        s.http
            .get(s.url("/rest/api/3/myself"))
            .basic_auth("builder@example.com", Some("api-token-dtg"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(right.status, 200);
    let pat = reply(
        s.http
            .get(s.url("/rest/api/3/myself"))
            .bearer_auth(DEFAULT_PAT)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(pat.status, 200);
}

// ------------------------------------------------------------ creating issues

#[tokio::test]
async fn a_created_issue_keeps_everything_it_was_given() {
    let s = site(Config::unlimited()).await;
    let epic = s
        .create(json!({"project": {"key": "DTG"}, "issuetype": {"name": "Epic"}, "summary": "Content model"}))
        .await;
    assert_eq!(epic.status, 201);
    conforms("CreatedIssue", &epic.body);
    assert_eq!(epic.body["key"], "DTG-1");

    let mut fields = story("Article content type");
    fields["parent"] = json!({"key": "DTG-1"});
    fields["priority"] = json!({"id": "2"});
    fields["assignee"] = json!({"accountId": "5b10ac8d82e05b22cc7d4ef5"});
    fields[SPRINT_FIELD] = json!(2);
    fields["customfield_10016"] = json!(3);
    let created = s
        .post(
            "/rest/api/3/issue",
            &json!({"fields": fields, "properties": [{"key": "dtg.ticket", "value": "T-1"}]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);

    let issue = s.emu.issue("DTG-2").unwrap();
    assert_eq!(issue.issue_type, "Story");
    assert_eq!(issue.parent_key.as_deref(), Some("DTG-1"));
    assert_eq!(issue.priority_id, "2");
    assert_eq!(issue.sprint, Some(2));
    assert_eq!(issue.labels, ["dtg-run-1"]);
    assert_eq!(issue.properties["dtg.ticket"], "T-1");
    assert_eq!(issue.description, Some(adf("Build it.")));
    assert_eq!(
        s.emu.issue("DTG-1").unwrap().priority_id,
        "3",
        "Medium by default"
    );

    let read = s.get("/rest/api/3/issue/DTG-2?properties=dtg.ticket").await;
    conforms("IssueBean", &read.body);
    assert_eq!(read.body["fields"]["parent"]["key"], "DTG-1");
    assert_eq!(read.body["fields"][SPRINT_FIELD][0]["id"], 2);
    assert_eq!(read.body["properties"]["dtg.ticket"], "T-1");

    let property = s.get("/rest/api/3/issue/DTG-2/properties/dtg.ticket").await;
    conforms("EntityProperty", &property.body);
    assert_eq!(property.body, json!({"key": "dtg.ticket", "value": "T-1"}));
    let put = s
        .put(
            "/rest/api/3/issue/DTG-1/properties/dtg.ticket",
            &json!("T-0"),
        )
        .await;
    assert_eq!(put.status, 201);
    let again = s
        .put(
            "/rest/api/3/issue/DTG-1/properties/dtg.ticket",
            &json!("T-0"),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(s.get("/rest/api/3/issue/DTG-9").await.status, 404);
}

#[tokio::test]
async fn jira_refuses_what_it_would_refuse_with_its_messages() {
    let mut config = Config::unlimited();
    let dtg = config.project_mut("DTG").unwrap();
    let task = dtg.issue_type_mut("Task").unwrap();
    task.fields
        .push(FieldConfig::required_text("customfield_10050", "Team"));
    let s = site(config).await;

    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"project": {"key": "DTG"}, "issuetype": {"id": "10001"}}),
            "summary",
            "You must specify a summary of the issue.",
        ),
        (
            story(&"x".repeat(256)),
            "summary",
            "Summary must be less than 255 characters.",
        ),
        (
            story("two\nlines"),
            "summary",
            "The summary is invalid because it contains newline characters.",
        ),
        (
            {
                let mut f = story("s");
                f["description"] = json!("plain text");
                f
            },
            "description",
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        ),
        (
            {
                let mut f = story("s");
                f["description"] = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": ""}]}]});
                f
            },
            "description",
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        ),
        (
            {
                let mut f = story("s");
                f["description"] = adf(&"y".repeat(33_000));
                f
            },
            "description",
            "The entered text is too long. It exceeds the allowed limit of 32767 characters.",
        ),
        (
            {
                let mut f = story("s");
                f["customfield_99999"] = json!("x");
                f
            },
            "customfield_99999",
            "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
        ),
        (
            {
                let mut f = story("s");
                f["priority"] = json!({"id": "42"});
                f
            },
            "priority",
            "The priority selected is invalid.",
        ),
        (
            {
                let mut f = story("s");
                f["assignee"] = json!({"accountId": "nobody"});
                f
            },
            "assignee",
            "Specified user does not exist or you do not have required permissions",
        ),
        (
            {
                let mut f = story("s");
                f[SPRINT_FIELD] = json!(1);
                f
            },
            SPRINT_FIELD,
            "Issue can be assigned only active or future sprints.",
        ),
        (
            {
                let mut f = story("s");
                f[SPRINT_FIELD] = json!(99);
                f
            },
            SPRINT_FIELD,
            "Sprint with id 99 does not exist.",
        ),
        (
            {
                let mut f = story("s");
                f["issuetype"] = json!({"id": "77"});
                f
            },
            "issuetype",
            "The issue type selected is invalid.",
        ),
        (
            {
                let mut f = story("s");
                f["project"] = json!({"key": "NOPE"});
                f
            },
            "project",
            "Specify a valid project ID or key",
        ),
        (
            {
                let mut f = story("s");
                f["parent"] = json!({"key": "DTG-404"});
                f
            },
            "parent",
            "Could not find issue by id or key.",
        ),
        (
            {
                let mut f = story("s");
                f["labels"] = json!(["has space"]);
                f
            },
            "labels",
            "The label 'has space' contains spaces which is invalid.",
        ),
        (
            json!({"project": {"key": "DTG"}, "issuetype": {"name": "Task"}, "summary": "s"}),
            "customfield_10050",
            "Team is required.",
        ),
        (
            json!({"project": {"key": "DTG"}, "issuetype": {"name": "Subtask"}, "summary": "s"}),
            "parent",
            "Parent is required.",
        ),
    ];
    for (fields, field, message) in cases {
        let r = s.create(fields).await;
        assert_eq!(r.status, 400, "{field}: {}", r.body);
        conforms("ErrorCollection", &r.body);
        assert_eq!(field_error(&r, field), message);
    }

    // A parent must be one level up: a story under a story is refused.
    let parent = s.create(story("a story")).await;
    let mut under = story("child");
    under["parent"] = json!({"key": parent.body["key"]});
    let r = s.create(under).await;
    assert_eq!(
        field_error(&r, "parent"),
        "Given parent work item does not belong to appropriate hierarchy."
    );

    let not_json = reply(
        s.http
            .post(s.url("/rest/api/3/issue"))
            .header("Authorization", &s.auth)
            .header("Content-Type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(
        not_json.body["errorMessages"][0],
        "Invalid request payload. Refer to the REST API documentation and try again."
    );
    assert_eq!(s.emu.issues().len(), 1, "only the valid story was made");
}

#[tokio::test]
async fn bulk_creates_keep_order_and_name_the_failed_elements() {
    let s = site(Config::unlimited()).await;
    let updates: Vec<Value> = (0..5)
        .map(|i| {
            let summary = if i == 1 || i == 3 { String::new() } else { format!("Ticket {i}") };
            json!({"fields": story(&summary), "properties": [{"key": "dtg.ticket", "value": format!("T-{i}")}]})
        })
        .collect();
    let r = s
        .post("/rest/api/3/issue/bulk", &json!({"issueUpdates": updates}))
        .await;
    assert_eq!(r.status, 201);
    conforms("CreatedIssues", &r.body);
    let keys: Vec<&str> = r.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["DTG-1", "DTG-2", "DTG-3"]);
    let failed: Vec<u64> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["failedElementNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(failed, [1, 3]);
    assert_eq!(r.body["errors"][0]["status"], 400);
    assert_eq!(
        r.body["errors"][0]["elementErrors"]["errors"]["summary"],
        "You must specify a summary of the issue."
    );
    let tickets: Vec<String> = s
        .emu
        .issues()
        .iter()
        .map(|i| i.properties["dtg.ticket"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tickets, ["T-0", "T-2", "T-4"]);

    let all_bad = s
        .post(
            "/rest/api/3/issue/bulk",
            &json!({"issueUpdates": [{"fields": story("")}]}),
        )
        .await;
    assert_eq!(all_bad.status, 400);
    conforms("CreatedIssues", &all_bad.body);
    assert_eq!(all_bad.body["errors"][0]["failedElementNumber"], 0);

    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({"fields": story(&format!("n{i}"))}))
        .collect();
    let r = s
        .post("/rest/api/3/issue/bulk", &json!({"issueUpdates": too_many}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(s.emu.issues().len(), 3);
}

#[tokio::test]
async fn links_are_recorded_in_the_direction_given_and_duplicates_pass_silently() {
    let s = site(Config::unlimited()).await;
    for n in ["A", "B"] {
        s.create(story(n)).await;
    }
    let link = json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "DTG-1"}, "outwardIssue": {"key": "DTG-2"}});
    assert_eq!(s.post("/rest/api/3/issueLink", &link).await.status, 201);
    assert_eq!(s.post("/rest/api/3/issueLink", &link).await.status, 201);
    let links = s.emu.links();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (
            links[0].type_name.as_str(),
            links[0].inward_key.as_str(),
            links[0].outward_key.as_str()
        ),
        ("Blocks", "DTG-1", "DTG-2")
    );
    let a = s.get("/rest/api/3/issue/DTG-1?fields=issuelinks").await;
    assert_eq!(
        a.body["fields"]["issuelinks"][0]["outwardIssue"]["key"],
        "DTG-2"
    );

    let gone = json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "DTG-1"}, "outwardIssue": {"key": "DTG-9"}});
    assert_eq!(s.post("/rest/api/3/issueLink", &gone).await.status, 404);
    let odd = json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "DTG-1"}, "outwardIssue": {"key": "DTG-2"}, "extra": 1});
    assert_eq!(
        s.post("/rest/api/3/issueLink", &odd).await.status,
        400,
        "unknown members are refused"
    );
}

#[tokio::test]
async fn attachments_need_the_xsrf_header() {
    let s = site(Config::unlimited()).await;
    s.create(story("with file")).await;
    let refused = s.attach("DTG-1", "notes.txt", b"hello", false).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, json!("XSRF check failed"));
    let ok = s.attach("DTG-1", "notes.txt", b"hello", true).await;
    assert_eq!(ok.status, 200);
    conforms("Attachment", &ok.body[0]);
    let files = s.emu.issue("DTG-1").unwrap().attachments;
    assert_eq!(
        (files[0].file_name.as_str(), files[0].size),
        ("notes.txt", 5)
    );
}

// ------------------------------------------------------------ search

#[tokio::test]
async fn search_pages_with_tokens_and_refuses_unbounded_queries() {
    let s = site(Config::unlimited()).await;
    let updates: Vec<Value> = (0..7)
        .map(|i| json!({"fields": story(&format!("t{i}")), "properties": [{"key": "dtg.ticket", "value": format!("T-{i}")}]}))
        .collect();
    s.post("/rest/api/3/issue/bulk", &json!({"issueUpdates": updates}))
        .await;
    let mut other = story("other run");
    other["labels"] = json!(["dtg-run-2"]);
    s.create(other).await;

    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"jql": "project = DTG AND labels = \"dtg-run-1\" ORDER BY created ASC",
                              "maxResults": 3, "fields": ["labels", "summary"], "properties": ["dtg.ticket"]});
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let r = s.post("/rest/api/3/search/jql", &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        conforms("SearchAndReconcileResults", &r.body);
        pages += 1;
        for issue in r.body["issues"].as_array().unwrap() {
            assert_eq!(issue["fields"]["labels"][0], "dtg-run-1");
            assert!(issue["properties"]["dtg.ticket"].is_string());
            keys.push(issue["key"].as_str().unwrap().to_owned());
        }
        match r.body["nextPageToken"].as_str() {
            Some(t) => {
                assert_eq!(r.body["isLast"], false);
                token = Some(t.to_owned());
            }
            None => {
                assert_eq!(r.body["isLast"], true);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        keys,
        (1..=7).map(|n| format!("DTG-{n}")).collect::<Vec<_>>()
    );

    let ids_only = s.get("/rest/api/3/search/jql?jql=project%20%3D%20DTG%20AND%20labels%20in%20(%22dtg-run-2%22)").await;
    assert_eq!(
        ids_only.body["issues"],
        json!([{"id": s.emu.issue("DTG-8").unwrap().id}])
    );
    let by_key = s.get("/rest/api/3/search/jql?jql=key%20in%20(DTG-2,DTG-3)%20ORDER%20BY%20key%20DESC&fields=summary").await;
    assert_eq!(by_key.body["issues"][0]["key"], "DTG-3");

    for jql in [
        "labels = \"dtg-run-1\"",
        "",
        "ORDER BY created",
        "project = DTG OR labels = x",
    ] {
        let r = s.post("/rest/api/3/search/jql", &json!({"jql": jql})).await;
        assert_eq!(r.status, 400, "{jql}");
        assert_eq!(
            r.body["errorMessages"][0],
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
        );
    }
    let unknown = s
        .post("/rest/api/3/search/jql", &json!({"jql": "project = NOPE"}))
        .await;
    assert_eq!(
        unknown.body["errorMessages"][0],
        "The value 'NOPE' does not exist for the field 'project'."
    );
    let old_paging = s
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = DTG", "startAt": 0}),
        )
        .await;
    assert_eq!(
        old_paging.status, 400,
        "members the request schema lacks are refused"
    );
    let bad_token = s
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = DTG", "nextPageToken": "zzz"}),
        )
        .await;
    assert_eq!(bad_token.status, 400);
}

#[tokio::test]
async fn search_lags_behind_creates_unless_reconciled() {
    let mut config = Config::unlimited();
    config.search_lag = Duration::from_secs(60);
    let s = site(config).await;
    let created = s.create(story("fresh")).await;
    let id: i64 = created.body["id"].as_str().unwrap().parse().unwrap();
    let plain = s
        .post("/rest/api/3/search/jql", &json!({"jql": "project = DTG"}))
        .await;
    assert_eq!(plain.body["issues"], json!([]));
    let reconciled = s
        .post(
            "/rest/api/3/search/jql",
            &json!({"jql": "project = DTG", "reconcileIssues": [id]}),
        )
        .await;
    assert_eq!(reconciled.body["issues"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_bulk_fetch_reads_issues_the_search_does_not_see_yet() {
    // GIVEN a site whose search lags a minute behind its writes
    let mut config = Config::unlimited();
    config.search_lag = Duration::from_secs(60);
    let s = site(config).await;
    for n in 0..3 {
        let mut fields = story(&format!("fresh {n}"));
        fields["labels"] = json!(["dtg-run-1"]);
        let body = json!({"fields": fields, "properties": [{"key": "dtg.ticket", "value": format!("t{n}")}]});
        assert_eq!(s.post("/rest/api/3/issue", &body).await.status, 201);
    }
    let searched = s
        .post("/rest/api/3/search/jql", &json!({"jql": "project = DTG"}))
        .await;
    assert_eq!(searched.body["issues"], json!([]));

    // WHEN the keys are read by a bulk fetch, with ones that do not exist
    let fetched = s
        .post(
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": ["DTG-3", "DTG-1", "DTG-9", "DTG-2"],
                    "fields": ["labels"], "properties": ["dtg.ticket"]}),
        )
        .await;

    // THEN every issue that exists comes back at once, in id order, with
    // its labels and property, and the unknown key is left out
    assert_eq!(fetched.status, 200);
    conforms("BulkIssueResults", &fetched.body);
    let issues = fetched.body["issues"].as_array().unwrap();
    let keys: Vec<&str> = issues.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["DTG-1", "DTG-2", "DTG-3"]);
    assert_eq!(issues[0]["fields"]["labels"], json!(["dtg-run-1"]));
    assert_eq!(issues[2]["properties"]["dtg.ticket"], "t2");
    assert_eq!(fetched.body["issueErrors"], json!([]));

    let too_many: Vec<String> = (1..=101).map(|n| format!("DTG-{n}")).collect();
    let r = s
        .post(
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": too_many}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = s
        .post("/rest/api/3/issue/bulkfetch", &json!({"keys": ["DTG-1"]}))
        .await;
    assert_eq!(
        r.status, 400,
        "a member the request schema lacks: {}",
        r.body
    );
}

#[tokio::test]
async fn links_made_by_a_create_call_read_as_jira_reads_them() {
    let s = site(Config::unlimited()).await;
    s.create(story("needed")).await;
    s.create(story("also needed")).await;
    let blocked =
        |other: &str| json!({"add": {"type": {"name": "Blocks"}, "inwardIssue": {"key": other}}});

    // A create with "is blocked by" DTG-1 and DTG-2, in bulk too.
    let r = s
        .post(
            "/rest/api/3/issue",
            &json!({"fields": story("needs both"), "update": {"issuelinks": [blocked("DTG-1"), blocked("DTG-2")]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            "/rest/api/3/issue/bulk",
            &json!({"issueUpdates": [
                {"fields": story("needs one"), "update": {"issuelinks": [blocked("DTG-1")]}},
                {"fields": story("links out"), "update": {"issuelinks": [
                    {"add": {"type": {"name": "Blocks"}, "outwardIssue": {"key": "DTG-2"}}}]}},
            ]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let links: Vec<(String, String, String)> = s
        .emu
        .links()
        .into_iter()
        .map(|l| (l.type_name, l.inward_key, l.outward_key))
        .collect();
    let link = |a: &str, b: &str| ("Blocks".to_owned(), a.to_owned(), b.to_owned());
    assert_eq!(
        links,
        [
            link("DTG-1", "DTG-3"),
            link("DTG-2", "DTG-3"),
            link("DTG-1", "DTG-4"),
            link("DTG-5", "DTG-2"),
        ]
    );
    // Seen from the new issue, the one that blocks it is its inward issue.
    let issue = s.get("/rest/api/3/issue/DTG-3?fields=issuelinks").await;
    let seen = &issue.body["fields"]["issuelinks"][0];
    assert_eq!(seen["inwardIssue"]["key"], "DTG-1");
    assert_eq!(seen["type"]["inward"], "is blocked by");

    // Refusals: an issue that does not exist, a link type that does not, and a
    // screen without the field.
    let r = s
        .post(
            "/rest/api/3/issue",
            &json!({"fields": story("nope"), "update": {"issuelinks": [blocked("DTG-99")]}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(field_error(&r, "issuelinks").contains("DTG-99"));
    let r = s
        .post(
            "/rest/api/3/issue",
            &json!({"fields": story("nope"), "update": {"issuelinks": [
                {"add": {"type": {"name": "Causes"}, "inwardIssue": {"key": "DTG-1"}}}]}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(field_error(&r, "issuelinks").contains("Causes"));
    let mut config = Config::unlimited();
    for t in &mut config.project_mut("DTG").unwrap().issue_types {
        t.fields.retain(|f| f.id != "issuelinks");
    }
    let bare = site(config).await;
    bare.create(story("needed")).await;
    let r = bare
        .post(
            "/rest/api/3/issue",
            &json!({"fields": story("needs it"), "update": {"issuelinks": [blocked("DTG-1")]}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(field_error(&r, "issuelinks").contains("not on the appropriate screen"));
    assert!(bare.emu.links().is_empty());
}

// ------------------------------------------------------------ rate limits

#[tokio::test]
async fn a_burst_is_refused_with_jiras_rate_limit_headers() {
    let limits = Limits {
        burst: Some(Burst {
            get_post_per_second: 5.0,
            put_delete_per_second: 2.0,
        }),
        ..Limits::off()
    };
    let s = site(Config::default().with_limits(limits)).await;
    let mut statuses = Vec::new();
    let mut near = false;
    let mut refused = None;
    for _ in 0..8 {
        let r = s.get("/rest/api/3/myself").await;
        near |= r.header("X-RateLimit-NearLimit") == Some("true");
        statuses.push(r.status);
        if r.status == 429 {
            refused = Some(r);
        }
    }
    assert!(!near, "Jira warns of the points quota only, not of a burst");
    let r = refused.expect("a 429");
    assert!(statuses.iter().filter(|s| **s == 200).count() >= 5);
    assert_eq!(r.header("RateLimit-Reason"), Some("jira-burst-based"));
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(r.header("X-RateLimit-Limit"), Some("5"));
    assert_eq!(r.header("X-RateLimit-Remaining"), Some("0"));
    let reset = r.header("X-RateLimit-Reset").unwrap();
    assert!(
        reset.len() == 24 && reset.ends_with('Z') && reset.contains('T'),
        "{reset}"
    );
    assert!(s.emu.throttled() >= 1);
    // Another endpoint has its own bucket.
    assert_eq!(s.get("/rest/api/3/priority").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.get("/rest/api/3/myself").await.status, 200);
}

#[tokio::test]
async fn writes_to_one_issue_and_the_hourly_quota_are_limited() {
    let limits = Limits {
        per_issue: Some(PerIssue {
            short_max: 3,
            short_window: Duration::from_secs(2),
            long_max: 100,
            long_window: Duration::from_secs(30),
        }),
        ..Limits::off()
    };
    let s = site(Config::default().with_limits(limits)).await;
    s.create(story("busy")).await;
    s.create(story("quiet")).await;
    for n in 0..3 {
        let r = s
            .put(
                &format!("/rest/api/3/issue/DTG-1/properties/p{n}"),
                &json!(n),
            )
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(
            r.header("X-RateLimit-NearLimit"),
            None,
            "write {n}: Jira warns of the points quota only"
        );
    }
    let r = s
        .put("/rest/api/3/issue/DTG-1/properties/p3", &json!(3))
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("RateLimit-Reason"),
        Some("jira-per-issue-on-write")
    );
    assert!(r.header("Retry-After").is_some());
    assert_eq!(
        s.put("/rest/api/3/issue/DTG-2/properties/p0", &json!(0))
            .await
            .status,
        201
    );

    s.emu.set_limits(Limits {
        quota: Some(Quota {
            points_per_hour: 10,
            per_request: 1,
            per_created_issue: 1,
            window: Duration::from_secs(3600),
        }),
        ..Limits::off()
    });
    let updates: Vec<Value> = (0..4)
        .map(|i| json!({"fields": story(&format!("q{i}"))}))
        .collect();
    assert_eq!(
        s.post("/rest/api/3/issue/bulk", &json!({"issueUpdates": updates}))
            .await
            .status,
        201
    ); // 5 points
    let r = s
        .post("/rest/api/3/issue/bulk", &json!({"issueUpdates": updates}))
        .await; // 5 more: exactly 10
    assert_eq!(r.status, 201);
    assert_eq!(r.header("X-RateLimit-NearLimit"), Some("true"));
    let r = s.get("/rest/api/3/myself").await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("RateLimit-Reason"),
        Some("jira-quota-tenant-based")
    );
    assert!(r.header("Retry-After").unwrap().parse::<u64>().unwrap() > 3000);
}

#[tokio::test]
async fn links_made_by_a_bulk_create_count_as_writes_to_the_issues_they_name() {
    // GIVEN an issue that may take 3 writes in 2 seconds
    let limits = Limits {
        per_issue: Some(PerIssue {
            short_max: 3,
            short_window: Duration::from_secs(2),
            long_max: 100,
            long_window: Duration::from_secs(30),
        }),
        ..Limits::off()
    };
    let s = site(Config::default().with_limits(limits)).await;
    s.create(story("hub")).await;
    let needing = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"fields": story(&format!("needs the hub {i}")),
                "update": {"issuelinks": [{"add": {"type": {"name": "Blocks"}, "inwardIssue": {"key": "DTG-1"}}}]}}))
            .collect()
    };
    // WHEN one bulk create links four new issues to it
    let r = s
        .post(
            "/rest/api/3/issue/bulk",
            &json!({"issueUpdates": needing(4)}),
        )
        .await;
    // THEN the whole call is refused as a per-issue limit, and nothing is made
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("RateLimit-Reason"),
        Some("jira-per-issue-on-write")
    );
    assert_eq!(s.emu.issues().len(), 1);
    // AND three fit
    let r = s
        .post(
            "/rest/api/3/issue/bulk",
            &json!({"issueUpdates": needing(3)}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(s.emu.links().len(), 3);
    let r = s
        .put("/rest/api/3/issue/DTG-1/properties/p", &json!(1))
        .await;
    assert_eq!(r.status, 429, "the hub's writes are used up");
}

// ------------------------------------------------------------ faults

#[tokio::test]
async fn a_lost_create_answer_still_made_the_issues() {
    let s = site(Config::unlimited()).await;
    s.emu.faults().lose_answer_of_create(2);
    assert_eq!(s.create(story("first")).await.status, 201);
    let lost = s
        .http
        .post(s.url("/rest/api/3/issue/bulk"))
        .header("Authorization", &s.auth)
        .json(&json!({"issueUpdates": [{"fields": story("second")}, {"fields": story("third")}]}))
        .send()
        .await;
    assert!(lost.is_err(), "the connection closes without an answer");
    assert_eq!(s.emu.issues().len(), 3);
    assert_eq!(s.emu.faults().answers_lost(), 1);
    assert_eq!(s.emu.requests().last().unwrap().status, 0);
    assert_eq!(s.create(story("fourth")).await.status, 201);

    s.emu
        .faults()
        .lose_answers_by(LostAnswer::Delay(Duration::from_secs(3)));
    s.emu.faults().lose_answer_of_create(1);
    let slow = s
        .http
        .post(s.url("/rest/api/3/issue"))
        .header("Authorization", &s.auth)
        .timeout(Duration::from_millis(300))
        .json(&json!({"fields": story("fifth")}))
        .send()
        .await;
    assert!(slow.unwrap_err().is_timeout());
    assert_eq!(s.emu.issues().len(), 5);

    // A late commit: the issues appear only after the client gave up.
    s.emu
        .faults()
        .lose_answers_by(LostAnswer::LateCommit(Duration::from_millis(800)));
    s.emu.faults().lose_answer_of_create(1);
    let late = s
        .http
        .post(s.url("/rest/api/3/issue"))
        .header("Authorization", &s.auth)
        .timeout(Duration::from_millis(300))
        .json(&json!({"fields": story("sixth")}))
        .send()
        .await;
    assert!(late.unwrap_err().is_timeout());
    assert_eq!(
        s.emu.issues().len(),
        5,
        "not made yet when the client gave up"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(s.emu.issues().len(), 6, "made after");
}

#[tokio::test]
async fn server_errors_come_in_bursts_everywhere_or_on_one_endpoint() {
    let s = site(Config::unlimited()).await;
    s.emu.faults().fail_next(2, 503);
    assert_eq!(s.get("/rest/api/3/myself").await.status, 503);
    assert_eq!(s.create(story("no")).await.status, 503);
    assert_eq!(s.get("/rest/api/3/myself").await.status, 200);
    assert!(s.emu.issues().is_empty(), "a 5xx did nothing");

    s.emu
        .faults()
        .fail_endpoint("POST /rest/api/3/issue/bulk", 1, 500);
    let bulk = json!({"issueUpdates": [{"fields": story("x")}]});
    let r = s.post("/rest/api/3/issue/bulk", &bulk).await;
    assert_eq!(r.status, 500);
    conforms("ErrorCollection", &r.body);
    assert_eq!(s.create(story("single")).await.status, 201);
    assert_eq!(s.post("/rest/api/3/issue/bulk", &bulk).await.status, 201);
    assert_eq!(s.emu.faults().server_errors_sent(), 3);
    assert_eq!(s.emu.count("POST /rest/api/3/issue/bulk"), 2);
}

#[tokio::test]
async fn revoked_permission_and_a_deleted_project_stop_writes() {
    let s = site(Config::unlimited()).await;
    s.create(story("before")).await;
    s.emu.faults().revoke_write_permission();
    let r = s.create(story("forbidden")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body["errorMessages"][0],
        "You do not have permission to create issues in this project."
    );
    assert_eq!(
        s.get("/rest/api/3/issue/DTG-1").await.status,
        200,
        "reads still work"
    );
    s.emu.faults().restore_write_permission();

    s.emu.faults().delete_project_after_creates("DTG", 2);
    let updates: Vec<Value> = (0..4)
        .map(|i| json!({"fields": story(&format!("d{i}"))}))
        .collect();
    let r = s
        .post("/rest/api/3/issue/bulk", &json!({"issueUpdates": updates}))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["issues"].as_array().unwrap().len(), 2);
    // Every element not made has its error.
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    for (error, element) in errors.iter().zip([2, 3]) {
        assert_eq!(error["status"], 404);
        assert_eq!(error["failedElementNumber"], element);
    }
    let after = s.create(story("after")).await;
    assert_eq!(after.status, 404);
    assert_eq!(
        after.body["errorMessages"][0],
        "No project could be found with key 'DTG'."
    );
    assert_eq!(s.get("/rest/api/3/project/DTG").await.status, 404);
    assert_eq!(s.emu.issues().len(), 3);

    // Restored from the trash, with its issues.
    s.emu.faults().restore_project("DTG");
    assert_eq!(s.get("/rest/api/3/project/DTG").await.status, 200);
    assert_eq!(s.get("/rest/api/3/issue/DTG-3").await.status, 200);
    assert_eq!(s.create(story("restored")).await.status, 201);
}

#[tokio::test]
async fn api_tokens_and_personal_access_tokens_expire_until_renewed() {
    let s = site(Config::unlimited()).await;
    let pat = || async {
        reply(
            s.http
                .get(s.url("/rest/api/3/myself"))
                .bearer_auth(DEFAULT_PAT)
                .send()
                .await
                .unwrap(),
        )
        .await
        .status
    };
    s.emu.faults().expire_api_tokens();
    let expired = s.get("/rest/api/3/myself").await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.body["errorMessages"][0],
        "Client must be authenticated to access this resource."
    );
    assert_eq!(pat().await, 401);
    s.emu.faults().renew_api_tokens();
    assert_eq!(s.get("/rest/api/3/myself").await.status, 200);
    assert_eq!(pat().await, 200);
}

#[tokio::test]
async fn slow_answers_are_slow() {
    let s = site(Config::unlimited()).await;
    s.emu
        .faults()
        .slow_endpoint("GET /rest/api/3/priority", Duration::from_millis(400));
    let started = std::time::Instant::now();
    s.get("/rest/api/3/myself").await;
    assert!(started.elapsed() < Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(s.get("/rest/api/3/priority").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

// ------------------------------------------------------------ OAuth

#[tokio::test]
async fn oauth_tokens_expire_and_refresh_tokens_rotate() {
    let s = site(Config::unlimited()).await;
    let token = |body: Value| {
        let http = s.http.clone();
        let url = s.url("/oauth/token");
        async move { reply(http.post(url).json(&body).send().await.unwrap()).await }
    };
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = no_redirects
        .get(s.url(&format!(
            "/authorize?audience=api.atlassian.com&client_id={DEFAULT_CLIENT_ID}&scope=read%3Ajira-work%20offline_access\
             &redirect_uri=http%3A%2F%2Flocalhost%2Fcb&state=s%201&response_type=code&prompt=consent"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status().as_u16(), 302);
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://localhost/cb?code=") && location.ends_with("&state=s%201"),
        "{location}"
    );
    let code = location
        .split_once("code=")
        .and_then(|(_, rest)| rest.split('&').next())
        .unwrap()
        .to_owned();
    let first = token(json!({"grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET, "code": code, "redirect_uri": "http://localhost/cb"}))
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["expires_in"], 3600);
    let access = first.body["access_token"].as_str().unwrap().to_owned();
    let refresh = first.body["refresh_token"].as_str().unwrap().to_owned();
    let reused_code = token(
        json!({"grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET, "code": code}),
    )
    .await;
    assert_eq!(reused_code.status, 403);

    let resources = reply(
        s.http
            .get(s.url("/oauth/token/accessible-resources"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let cloud = resources.body[0]["id"].as_str().unwrap().to_owned();
    assert!(
        resources.body[0]["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "write:jira-work")
    );
    assert_eq!(resources.body[0]["url"], s.emu.base_url());
    let me_url = format!("{}/ex/jira/{cloud}/rest/api/3/myself", s.emu.base_url());
    let me = reply(
        s.http
            .get(&me_url)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me.status, 200);
    assert!(me.body["self"].as_str().unwrap().contains("/ex/jira/"));
    let basic = reply(
        s.http
            .get(&me_url)
            .header("Authorization", &s.auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(basic.status, 401, "the gateway takes OAuth tokens only");

    s.emu.faults().expire_access_tokens();
    let expired = reply(
        s.http
            .get(&me_url)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.body,
        json!({"code": 401, "message": "Unauthorized"})
    );

    let refresh_body = |r: &str| {
        json!({"grant_type": "refresh_token", "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET, "refresh_token": r})
    };
    let second = token(refresh_body(&refresh)).await;
    assert_eq!(second.status, 200);
    let new_refresh = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);
    let new_access = second.body["access_token"].as_str().unwrap();
    assert_eq!(
        reply(
            s.http
                .get(&me_url)
                .bearer_auth(new_access)
                .send()
                .await
                .unwrap()
        )
        .await
        .status,
        200
    );

    let reused = token(refresh_body(&refresh)).await;
    assert_eq!(reused.status, 403);
    assert_eq!(reused.body["error"], "invalid_grant");
    assert_eq!(token(refresh_body(&new_refresh)).await.status, 200);
    let bad_client = token(json!({"grant_type": "refresh_token", "client_id": "x", "client_secret": "y", "refresh_token": "z"})).await;
    assert_eq!(bad_client.status, 401);
}

// ------------------------------------------------------------ plain tests

#[test]
fn a_background_emulator_serves_plain_tests() {
    use std::io::{Read, Write};
    let emu = JiraEmulator::start_in_background(Config::unlimited()).unwrap();
    let mut stream = std::net::TcpStream::connect(emu.addr()).unwrap();
    write!(
        stream,
        "GET /rest/api/3/project/DTG HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        emu.basic_auth()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"key\":\"DTG\""));
    assert_eq!(emu.count("GET /rest/api/3/project/{projectIdOrKey}"), 1);
    assert!(emu.duplicates().is_empty());
}

#[tokio::test]
async fn duplicates_are_found_by_ticket_property() {
    let s = site(Config::unlimited()).await;
    for _ in 0..2 {
        s.post("/rest/api/3/issue", &json!({"fields": story("twice"), "properties": [{"key": "dtg.ticket", "value": "T-7"}]})).await;
    }
    s.post(
        "/rest/api/3/issue",
        &json!({"fields": story("once"), "properties": [{"key": "dtg.ticket", "value": "T-8"}]}),
    )
    .await;
    let dups = s.emu.duplicates();
    assert_eq!(dups.len(), 1);
    assert_eq!(dups["T-7"], ["DTG-1", "DTG-2"]);
}
