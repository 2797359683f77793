//! Helpers shared by the integration tests: the HTML corpus, the official ADF JSON schema
//! (in-process, with the `jsonschema` crate) and the Node validator script
//! (`tests/adf/validate.mjs`, which runs Atlassian's own packages).

#![allow(dead_code)]
// Test helpers: panicking with a message is how they report a broken setup.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// `tests/adf`, where the Node project and the corpus live.
pub fn adf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("tests")
        .join("adf")
}

/// Message telling how to install the Node packages the schema checks need.
pub const INSTALL_HINT: &str = "the official ADF schema packages are not installed: \
run `npm ci` in tests/adf (needs Node.js 20+ and the npm registry), then re-run the tests";

fn schema_path() -> PathBuf {
    adf_dir().join("node_modules/@atlaskit/adf-schema/dist/json-schema/v1/full.json")
}

/// Fails the test (never skips it) when `npm ci` has not been run in tests/adf.
pub fn require_node_modules() {
    let path = schema_path();
    assert!(
        path.is_file(),
        "{INSTALL_HINT} (missing {})",
        path.display()
    );
    let utils = adf_dir().join("node_modules/@atlaskit/adf-utils/validator/package.json");
    assert!(
        utils.is_file(),
        "{INSTALL_HINT} (missing {})",
        utils.display()
    );
}

/// The compiled official JSON schema (draft-04).
pub fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        require_node_modules();
        let text = std::fs::read_to_string(schema_path()).expect("read full.json");
        let json: Value = serde_json::from_str(&text).expect("full.json is JSON");
        jsonschema::draft4::new(&json).expect("full.json compiles as draft-04")
    })
}

/// Schema errors of `doc` (empty when valid).
pub fn schema_errors(doc: &Value) -> Vec<String> {
    let schema = schema();
    if schema.is_valid(doc) {
        return Vec::new();
    }
    schema
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// One `(file name, HTML)` per corpus file, sorted by name.
pub fn corpus() -> Vec<(String, String)> {
    let dir = adf_dir().join("corpus");
    let mut entries: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("read tests/adf/corpus")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let html = std::fs::read_to_string(&p).expect("corpus file is UTF-8");
            (name, html)
        })
        .collect();
    entries.sort();
    entries
}

/// What `validate.mjs` printed.
#[derive(Debug)]
pub struct NodeReport {
    /// Exit status code.
    pub status: Option<i32>,
    /// The parsed JSON report.
    pub report: Value,
    /// Indices of failing documents.
    pub failed: Vec<usize>,
    /// Standard error, for diagnostics.
    pub stderr: String,
}

/// Runs `node tests/adf/validate.mjs` on `docs`.
pub fn run_node_validator(docs: &[Value]) -> NodeReport {
    require_node_modules();
    let mut file = tempfile::Builder::new()
        .prefix("adf-docs-")
        .suffix(".json")
        .tempfile()
        .expect("create temp file");
    serde_json::to_writer(&mut file, docs).expect("write documents");
    let output = Command::new("node")
        .arg(adf_dir().join("validate.mjs"))
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}); install Node.js 20+. {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("validate.mjs printed no JSON report ({e}):\n{stdout}\n{stderr}")
    });
    let failed = report["failures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["index"].as_u64())
                .map(|i| i as usize)
                .collect()
        })
        .unwrap_or_default();
    NodeReport {
        status: output.status.code(),
        report,
        failed,
        stderr,
    }
}

/// HTML snippets, one or more per supported construct, with a label.
pub const CONSTRUCTS: &[(&str, &str)] = &[
    (
        "heading levels",
        "<h1>1</h1><h2>2</h2><h3>3</h3><h4>4</h4><h5>5</h5><h6>6</h6>",
    ),
    ("paragraphs", "<p>one</p><p>two</p>"),
    ("strong", "<p><strong>s</strong><b>b</b></p>"),
    ("em", "<p><em>e</em><i>i</i></p>"),
    ("code mark", "<p><code>c</code></p>"),
    ("strike", "<p><s>s</s><strike>t</strike><del>d</del></p>"),
    ("underline", "<p><u>u</u></p>"),
    (
        "link",
        r#"<p><a href="https://example.com/a?b=c">l</a></p>"#,
    ),
    (
        "bullet list",
        "<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>",
    ),
    ("ordered list", r#"<ol start="3"><li>a</li><li>b</li></ol>"#),
    (
        "table",
        r#"<table><tr><th>h</th><th>i</th></tr><tr><td colspan="2">c</td></tr></table>"#,
    ),
    (
        "rowspan",
        r#"<table><tr><td rowspan="2">r</td><td>a</td></tr><tr><td>b</td></tr></table>"#,
    ),
    ("code block", "<pre>plain\n  code</pre>"),
    (
        "code block language",
        r#"<pre><code class="language-rust">fn main() {}</code></pre>"#,
    ),
    ("blockquote", "<blockquote><p>q</p></blockquote>"),
    ("rule", "<p>a</p><hr><p>b</p>"),
    ("hard break", "<p>a<br>b</p>"),
    (
        "task list class",
        r#"<ul class="task-list"><li><input type="checkbox" checked> d</li><li><input type="checkbox"> t</li></ul>"#,
    ),
    (
        "task list data-type",
        r#"<ul data-type="taskList"><li data-checked="true">d</li><li data-checked="false">t</li></ul>"#,
    ),
    (
        "task list implicit",
        r#"<ul><li><input type="checkbox"> a</li><li><input type="checkbox" checked> b</li></ul>"#,
    ),
    (
        "panel info",
        r#"<div class="panel panel-info"><p>i</p></div>"#,
    ),
    ("panel note", r#"<div class="panel panel-note">n</div>"#),
    (
        "panel warning",
        r#"<div class="panel panel-warning">w</div>"#,
    ),
    (
        "panel success",
        r#"<div class="panel panel-success">s</div>"#,
    ),
    ("panel error", r#"<div class="panel panel-error">e</div>"#),
];
