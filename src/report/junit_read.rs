//! Reads JUnit XML written by [`super::write_junit`] back, for `report merge`,
//! keeping every `<testcase>` element byte for byte.
//!
//! Why not `quick-junit`'s own deserializer (0.8): it trims the text of
//! `<system-out>` and of `<failure>`/`<error>`, so a stage's log loses its
//! trailing newline and the indentation of its first line, and a merged file
//! would differ from the unsharded run's. `quick-xml` (already underneath
//! `quick-junit`) gives the positions to copy each case unchanged and the
//! few attributes and texts the merge needs.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::Reader;

/// A JUnit file: the root's name and its suites.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitFile {
    pub name: Option<String>,
    pub suites: Vec<JunitSuite>,
}

/// One `<testsuite>`: a partition.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitSuite {
    pub name: String,
    pub seconds: f64,
    pub timestamp: Option<String>,
    pub cases: Vec<JunitCase>,
}

/// One `<testcase>`: a kernel's stage (or a partition's `harness` error).
#[derive(Clone, Debug, PartialEq)]
pub struct JunitCase {
    pub name: String,
    pub classname: String,
    pub seconds: f64,
    pub status: CaseStatus,
    pub system_out: String,
    /// The element as it stood in the file, `<testcase` to `</testcase>`.
    pub xml: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CaseStatus {
    Passed,
    /// `<failure>` (`error` false) or `<error>` (`error` true).
    Problem { error: bool, ty: String, message: String, text: String },
    Skipped { message: String },
}

/// Parses `xml`; the error says what and where (byte offset).
pub fn read_junit(xml: &str) -> Result<JunitFile, String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut file: Option<JunitFile> = None;
    let mut closed = false;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| at(&reader, e))?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuites" => {
                if file.is_some() {
                    return Err("a second <testsuites>".into());
                }
                file = Some(JunitFile { name: attribute(&e, "name")?, suites: Vec::new() });
            }
            Event::End(e) if e.name().as_ref() == b"testsuites" => closed = true,
            Event::Start(e) if e.name().as_ref() == b"testsuite" => {
                let suite = suite_start(&e)?;
                let suites = &mut file.as_mut().ok_or("<testsuite> outside <testsuites>")?.suites;
                suites.push(suite);
            }
            Event::Empty(e) if e.name().as_ref() == b"testsuite" => {
                let suite = suite_start(&e)?;
                file.as_mut().ok_or("<testsuite> outside <testsuites>")?.suites.push(suite);
            }
            Event::Start(e) if e.name().as_ref() == b"testcase" => {
                let end = e.name().as_ref().to_vec();
                reader.read_to_end(QName(&end)).map_err(|err| at(&reader, err))?;
                let raw = &xml[before..reader.buffer_position() as usize];
                push_case(&mut file, case(&e, raw)?)?;
            }
            Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                let raw = &xml[before..reader.buffer_position() as usize];
                push_case(&mut file, case(&e, raw)?)?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match file {
        Some(f) if closed || f.suites.is_empty() => Ok(f),
        Some(_) => Err("the file ends before </testsuites>".into()),
        None => Err("no <testsuites> element".into()),
    }
}

fn at(reader: &Reader<&[u8]>, e: quick_xml::Error) -> String {
    format!("{e} (near byte {})", reader.error_position())
}

fn push_case(file: &mut Option<JunitFile>, case: JunitCase) -> Result<(), String> {
    let suite = file
        .as_mut()
        .and_then(|f| f.suites.last_mut())
        .ok_or_else(|| format!("<testcase name=\"{}\"> outside a <testsuite>", case.name))?;
    suite.cases.push(case);
    Ok(())
}

fn attribute(e: &BytesStart, name: &str) -> Result<Option<String>, String> {
    let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    match e.try_get_attribute(name).map_err(|err| format!("<{tag}>: {err}"))? {
        None => Ok(None),
        Some(a) => a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map(|v| Some(v.into_owned())).map_err(|err| format!("<{tag} {name}>: {err}")),
    }
}

fn seconds(e: &BytesStart) -> Result<f64, String> {
    match attribute(e, "time")? {
        None => Ok(0.0),
        Some(t) => t.trim().parse::<f64>().map_err(|_| format!("time=\"{t}\" is not a number of seconds")),
    }
}

fn suite_start(e: &BytesStart) -> Result<JunitSuite, String> {
    let name = attribute(e, "name")?.ok_or("a <testsuite> without a name")?;
    Ok(JunitSuite { name, seconds: seconds(e)?, timestamp: attribute(e, "timestamp")?, cases: Vec::new() })
}

/// The case's attributes from its start tag, its status and output from `raw`.
fn case(start: &BytesStart, raw: &str) -> Result<JunitCase, String> {
    let name = attribute(start, "name")?.ok_or("a <testcase> without a name")?;
    let classname = attribute(start, "classname")?.unwrap_or_default();
    let mut status = CaseStatus::Passed;
    let mut system_out = String::new();
    let mut reader = Reader::from_str(raw);
    reader.config_mut().trim_text(false);
    loop {
        let event = reader.read_event().map_err(|e| format!("<testcase name=\"{name}\">: {e}"))?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Eof => break,
            _ => continue,
        };
        let tag = e.name().as_ref().to_vec();
        if tag == b"testcase" {
            continue;
        }
        let text = if empty {
            String::new()
        } else {
            let raw = reader.read_text(QName(&tag)).map_err(|err| format!("<testcase name=\"{name}\">: {err}"))?;
            let raw = String::from_utf8_lossy(&raw).into_owned();
            quick_xml::escape::unescape(&raw).map_err(|err| format!("<testcase name=\"{name}\">: {err}"))?.into_owned()
        };
        let message = attribute(&e, "message")?.unwrap_or_default();
        match tag.as_slice() {
            b"failure" | b"error" => {
                let ty = attribute(&e, "type")?.unwrap_or_default();
                status = CaseStatus::Problem { error: tag == b"error", ty, message, text };
            }
            b"skipped" => status = CaseStatus::Skipped { message },
            b"system-out" => system_out = text,
            _ => {}
        }
    }
    Ok(JunitCase { name, classname, seconds: seconds(start)?, status, system_out, xml: raw.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_cases_verbatim_and_reads_what_the_merge_needs() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<testsuites name=\"hpc-kernels shard 1/2 spec ab\" tests=\"3\" failures=\"1\" errors=\"0\" time=\"1.500\">\n    \
<testsuite name=\"alpha\" tests=\"3\" skipped=\"1\" errors=\"0\" failures=\"1\" time=\"1.500\" timestamp=\"2024-05-01T12:34:56Z\">\n        \
<testcase name=\"modules\" classname=\"alpha.k\" time=\"0.500\">\n            <system-out>  indented\n]]&gt; &amp;\n</system-out>\n        </testcase>\n        \
<testcase name=\"pip:a\" classname=\"alpha.k\" time=\"1.000\">\n            <failure message=\"no &quot;wheel&quot;\" type=\"failed\">line 1\nline 2</failure>\n        </testcase>\n        \
<testcase name=\"launch\" classname=\"alpha.k\" time=\"0.000\">\n            <skipped message=\"blocked\"/>\n        </testcase>\n    \
</testsuite>\n    <testsuite name=\"romeo\" tests=\"0\" skipped=\"0\" errors=\"0\" failures=\"0\" time=\"0.000\"/>\n</testsuites>\n";
        let file = read_junit(xml).unwrap();
        assert_eq!(file.name.as_deref(), Some("hpc-kernels shard 1/2 spec ab"));
        assert_eq!(file.suites.len(), 2);
        let alpha = &file.suites[0];
        assert_eq!((alpha.name.as_str(), alpha.seconds, alpha.timestamp.as_deref()), ("alpha", 1.5, Some("2024-05-01T12:34:56Z")));
        assert_eq!(alpha.cases[0].system_out, "  indented\n]]> &\n");
        assert!(alpha.cases[0].xml.starts_with("<testcase name=\"modules\"") && alpha.cases[0].xml.ends_with("</testcase>"));
        assert!(xml.contains(&alpha.cases[1].xml));
        assert_eq!(
            alpha.cases[1].status,
            CaseStatus::Problem { error: false, ty: "failed".into(), message: "no \"wheel\"".into(), text: "line 1\nline 2".into() }
        );
        assert_eq!(alpha.cases[2].status, CaseStatus::Skipped { message: "blocked".into() });
        assert!(file.suites[1].cases.is_empty());
    }

    #[test]
    fn refuses_what_is_not_junit() {
        for (xml, expected) in [
            ("", "no <testsuites>"),
            ("<testsuites><testsuite name=\"a\"><testcase name=\"x\">", "testcase"),
            ("<testsuites><testsuite>", "without a name"),
            ("<testsuite name=\"a\"/>", "outside <testsuites>"),
            ("<testsuites><testsuite name=\"a\" time=\"soon\"/></testsuites>", "not a number"),
            ("<testsuites><testsuite name=\"a\"><testcase name=\"x\"/></testsuite>", "ends before"),
        ] {
            let err = read_junit(xml).unwrap_err();
            assert!(err.contains(expected), "{xml}: {err}");
        }
    }
}
