//! The seed's agent template variables: `{{.Name}}` placeholders, in Go
//! template syntax, in a pipeline's `template_integration` block (rendered
//! per task into the tool's `shared_context`) and in an agent contract
//! template (rendered per agent by `taylordash contracts`).
//!
//! Only the variable form is supported — `{{.Name}}`, spaces allowed inside
//! the braces — because that is all the seed uses; an action, a function or
//! a pipe, an unclosed `{{` and an unknown name are validation errors at
//! their `file:line:col`, never an empty string at run time. Values render
//! as text: a string as itself, anything else as compact JSON.

use serde_json::Value;

use crate::yaml::diagnostic::did_you_mean;

/// Every variable, with what it holds.
pub const VARIABLES: [(&str, &str); 12] = [
    ("OrchestrationState", "the run: id, the stage and attempt, each stage's status"),
    ("AvailableAgents", "every agent of the pipeline: name, stage, tools, role"),
    ("TaskHistory", "the run's tasks so far: id, status"),
    ("RequiredChecks", "the gates of the agent's stage"),
    ("MCPEndpoints", "the MCP servers the workspace names (context7.json)"),
    ("AgentName", "the agent"),
    ("Version", "the TaylorDash version that runs the agent"),
    ("Tools", "the agent's tools, in order"),
    ("ExpectedInputs", "the inputs of the agent's stage"),
    ("GuaranteedOutputs", "what the agent's stage must produce: its outputs and the hand-over it receives"),
    ("PerformanceTargets", "the stage's limits: timeout, retries"),
    ("RequiredServices", "the services the agent's tools reach"),
];

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

/// A problem in a template: what, and at which character of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl Template {
    /// Parse `text`; every variable must be one of [`VARIABLES`].
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut consumed = 0usize; // characters of `text` before `rest`
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let at = consumed + rest[..open].chars().count();
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(TemplateError { offset: at, message: "`{{` is never closed by `}}`".into() });
            };
            let inner = after[..close].trim();
            let name = inner.strip_prefix('.').filter(|n| {
                n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            let Some(name) = name else {
                return Err(TemplateError {
                    offset: at,
                    message: format!("`{{{{{}}}}}`: only variables (`{{{{.Name}}}}`) are supported: no actions, functions or pipes", after[..close].trim()),
                });
            };
            if !VARIABLES.iter().any(|(v, _)| *v == name) {
                let hint = did_you_mean(name, VARIABLES.iter().map(|(v, _)| *v));
                let known: Vec<&str> = VARIABLES.iter().map(|(v, _)| *v).collect();
                return Err(TemplateError {
                    offset: at,
                    message: format!("unknown template variable `.{name}`{hint}; known: {}", known.join(", ")),
                });
            }
            parts.push(Part::Var(name.to_string()));
            let used = open + 2 + close + 2;
            consumed += rest[..used].chars().count();
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The variables the template uses, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with each variable replaced by `value(name)`.
    pub fn render(&self, value: impl Fn(&str) -> Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => match value(v) {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        out
    }

    /// Render a template that is a single variable as that variable's value
    /// itself (a list stays a list); anything else as text.
    pub fn render_value(&self, value: impl Fn(&str) -> Value) -> Value {
        match self.parts.as_slice() {
            [Part::Var(v)] => value(v),
            _ => Value::String(self.render(value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_render_and_everything_else_is_an_error_at_its_place() {
        let t = Template::parse("agent {{.AgentName}} with {{ .Tools }}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["AgentName", "Tools"]);
        let value = |v: &str| if v == "AgentName" { json!("qa") } else { json!(["pytest_asyncio", "bash_runner"]) };
        assert_eq!(t.render(value), r#"agent qa with ["pytest_asyncio","bash_runner"]"#);
        assert_eq!(Template::parse("{{.Tools}}").unwrap().render_value(value), json!(["pytest_asyncio", "bash_runner"]));
        let err = |text: &str| Template::parse(text).unwrap_err();
        assert_eq!(
            err("é {{.AgentNam}}"),
            TemplateError {
                offset: 2,
                message: format!(
                    "unknown template variable `.AgentNam` (did you mean \"AgentName\"?); known: {}",
                    VARIABLES.map(|(v, _)| v).join(", ")
                )
            }
        );
        assert_eq!(err("x {{.Tools").message, "`{{` is never closed by `}}`");
        assert_eq!(err("{{ range .Tools }}").message, "`{{range .Tools}}`: only variables (`{{.Name}}`) are supported: no actions, functions or pipes");
        assert_eq!(err("{{.Tools | len}}").offset, 0);
        assert_eq!(Template::parse("no variables").unwrap().render(|_| Value::Null), "no variables");
    }
}
