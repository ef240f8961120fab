//! Finding CMD's program before any work starts, so that a command that
//! cannot start is one clear error naming why, rather than a failure per
//! key: not found, a directory, not executable, or a script whose `#!`
//! interpreter is missing (most often because the script has Windows line
//! endings, and the kernel looks for `/bin/sh\r`).

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Finds the program: a path with a separator must exist; a bare name is
/// looked up in `PATH`. Either way it must be an executable file, and a
/// script's interpreter must be one too.
pub(crate) fn resolve(program: &Path) -> anyhow::Result<PathBuf> {
    let found = if program.components().count() > 1 {
        check_file(program)?;
        program.to_path_buf()
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| check_file(candidate).is_ok())
            .ok_or_else(|| anyhow::anyhow!("command not found in PATH: {}", program.display()))?
    };
    check_interpreter(&found)?;
    Ok(found)
}

/// Why starting `program` failed, in words that name the likely cause.
pub(crate) fn explain_spawn(program: &Path, error: &std::io::Error) -> String {
    let program = program.display();
    match error.raw_os_error() {
        Some(libc::ENOEXEC) => format!(
            "cannot start {program}: it is not a program this system can run \
             (a script needs a first line such as #!/bin/sh)"
        ),
        Some(libc::ENOENT) => format!(
            "cannot start {program}: it, or the interpreter on its #! line, does not exist ({error})"
        ),
        Some(libc::EACCES) => {
            format!("cannot start {program}: permission denied (is it executable? {error})")
        }
        _ => format!("cannot start {program}: {error}"),
    }
}

/// An existing, executable regular file, or an error saying which of those
/// it is not.
fn check_file(path: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("command not found: {} ({e})", path.display()))?;
    if meta.is_dir() {
        anyhow::bail!("the command {} is a directory", path.display());
    }
    if !meta.is_file() {
        anyhow::bail!("the command {} is not a regular file", path.display());
    }
    if !is_executable(&meta) {
        anyhow::bail!(
            "the command {} is not executable (chmod +x {0})",
            path.display()
        );
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}

/// For a script (a first line `#!INTERPRETER [ARG]`): the interpreter must
/// exist and be executable. A program that cannot be read is left to the
/// kernel to judge.
fn check_interpreter(program: &Path) -> anyhow::Result<()> {
    let mut head = [0u8; 256];
    let Ok(n) = std::fs::File::open(program).and_then(|mut file| file.read(&mut head)) else {
        return Ok(());
    };
    let head = &head[..n];
    let Some(line) = head.strip_prefix(b"#!") else {
        // Text with no `#!` line: the kernel refuses it (ENOEXEC; a shell
        // would run it with sh, pipework runs no shell). Anything with a
        // NUL byte (ELF, or a format the kernel was taught) it may run.
        if !head.is_empty() && !head.contains(&0) && std::str::from_utf8(head).is_ok() {
            anyhow::bail!(
                "cannot run {}: it is a text file with no #! line (add a first line such as #!/bin/sh)",
                program.display()
            );
        }
        return Ok(());
    };
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let carriage_return = line.ends_with(b"\r");
    let text = String::from_utf8_lossy(line);
    // The kernel takes the interpreter up to the first space or tab; a
    // carriage return is part of its name.
    let interpreter = text
        .trim_start_matches([' ', '\t'])
        .split([' ', '\t'])
        .next()
        .unwrap_or_default();
    if interpreter.is_empty() {
        anyhow::bail!(
            "cannot run {}: its #! line names no interpreter",
            program.display()
        );
    }
    let Err(problem) = check_file(Path::new(interpreter)) else {
        return Ok(());
    };
    let mut message = format!(
        "cannot run {}: the interpreter on its first line {:?} cannot be started: {problem}",
        program.display(),
        format!("#!{}", text.trim_end_matches('\r')),
    );
    if carriage_return {
        let _ = write!(
            message,
            "; the line ends in a carriage return (Windows line endings), so the \
             interpreter's name ends in \\r: convert the script with `sed -i 's/\\r$//' {}` \
             or `dos2unix`",
            program.display()
        );
    }
    anyhow::bail!(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn error(path: &Path) -> String {
        format!("{:#}", resolve(path).unwrap_err())
    }

    #[test]
    fn each_kind_of_unstartable_command_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ok = script(d, "ok.sh", "#!/bin/sh\necho\n", 0o755);
        assert_eq!(resolve(&ok).unwrap(), ok);
        let with_arg = script(d, "arg.sh", "#! /bin/sh -e\necho\n", 0o755);
        assert!(resolve(&with_arg).is_ok());

        let crlf = script(d, "crlf.sh", "#!/bin/sh\r\necho\r\n", 0o755);
        let text = error(&crlf);
        assert!(
            text.contains("crlf.sh") && text.contains("#!/bin/sh"),
            "{text}"
        );
        assert!(text.contains("carriage return"), "{text}");

        let missing = script(d, "missing.sh", "#!/no/such/interpreter\n", 0o755);
        let text = error(&missing);
        assert!(text.contains("/no/such/interpreter"), "{text}");
        assert!(!text.contains("carriage return"), "{text}");

        let empty = script(d, "empty.sh", "#!\n", 0o755);
        assert!(error(&empty).contains("names no interpreter"));

        let no_shebang = script(d, "bare.sh", "echo hi\n", 0o755);
        assert!(error(&no_shebang).contains("no #! line"));
        assert!(resolve(Path::new("/bin/sh")).is_ok(), "a binary is fine");

        let plain = script(d, "plain.sh", "echo\n", 0o644);
        assert!(error(&plain).contains("not executable"));
        assert!(error(d).contains("is a directory"));
        assert!(error(&d.join("nothing")).contains("command not found"));
    }

    #[test]
    fn spawn_errors_say_the_likely_cause() {
        let program = Path::new("./x");
        let explain = |errno| explain_spawn(program, &std::io::Error::from_raw_os_error(errno));
        assert!(explain(libc::ENOEXEC).contains("#!/bin/sh"));
        assert!(explain(libc::ENOENT).contains("interpreter"));
        assert!(explain(libc::EACCES).contains("executable"));
        assert!(explain(libc::EIO).starts_with("cannot start ./x: "));
    }
}
