//! Uploaded files, treated as hostile until proven otherwise: their type is read from their
//! bytes (never from the name or the browser's claim), they are stored under names we generate
//! (never a path from the uploader), and the name shown to people is cleaned of anything that
//! could act as a path or a control character.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file type Lectern accepts, as its bytes show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Pdf,
    Png,
    Jpeg,
    Gif,
    Webp,
    /// A ZIP container: office documents (docx, pptx, xlsx, odt, ...) and plain archives.
    Zip,
    /// The older Microsoft Office format (doc, xls, ppt).
    OfficeLegacy,
    /// UTF-8 text without control bytes.
    Text,
}

impl FileType {
    /// The `media.kind` column.
    pub fn kind(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Png | FileType::Jpeg | FileType::Gif | FileType::Webp => "image",
            FileType::Zip | FileType::OfficeLegacy | FileType::Text => "other",
        }
    }

    /// The `Content-Type` it is served with. Office documents are served as what their container
    /// is: the download's name tells the computer which program opens it.
    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Png => "image/png",
            FileType::Jpeg => "image/jpeg",
            FileType::Gif => "image/gif",
            FileType::Webp => "image/webp",
            FileType::Zip => "application/zip",
            FileType::OfficeLegacy => "application/octet-stream",
            FileType::Text => "text/plain; charset=utf-8",
        }
    }

    /// The usual extension: stored files get it (for people reading the folder; it is never
    /// trusted).
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }

    /// Extensions a download of this type may keep; the first is added when the name has none
    /// of them (so a PDF called `notes.exe` downloads as `notes.exe.pdf`).
    fn extensions(self) -> &'static [&'static str] {
        match self {
            FileType::Pdf => &["pdf"],
            FileType::Png => &["png"],
            FileType::Jpeg => &["jpg", "jpeg"],
            FileType::Gif => &["gif"],
            FileType::Webp => &["webp"],
            FileType::Zip => &["zip", "docx", "pptx", "xlsx", "odt", "odp", "ods", "epub"],
            FileType::OfficeLegacy => &["doc", "xls", "ppt"],
            FileType::Text => &["txt", "csv", "tsv", "md"],
        }
    }
}

/// How much of a text file is checked for being text.
const TEXT_SNIFF_BYTES: usize = 64 * 1024;

/// The type `bytes` hold, or `None` for anything Lectern does not accept (executables, HTML,
/// SVG and other scriptable formats among them).
pub fn sniff(bytes: &[u8]) -> Option<FileType> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"%PDF-") {
        return Some(FileType::Pdf);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(FileType::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some(FileType::Jpeg);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(FileType::Gif);
    }
    if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Some(FileType::Webp);
    }
    if starts(b"PK\x03\x04") {
        return Some(FileType::Zip);
    }
    if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(FileType::OfficeLegacy);
    }
    if !bytes.is_empty() && looks_like_text(bytes) {
        return Some(FileType::Text);
    }
    None
}

/// UTF-8 (a character cut at the sniffing limit is fine) with no control bytes but tab and line
/// breaks, and not markup a browser would run.
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(TEXT_SNIFF_BYTES)];
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(err) if err.error_len().is_none() && head.len() == TEXT_SNIFF_BYTES => {
            std::str::from_utf8(&head[..err.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    if valid.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return false;
    }
    let start = valid.trim_start().get(..64).unwrap_or(valid.trim_start()).to_ascii_lowercase();
    !["<!doctype", "<html", "<svg", "<?xml", "<script"].iter().any(|m| start.starts_with(m))
}

/// Longest name kept for display, in characters.
const MAX_NAME_CHARS: usize = 120;

/// The name to show and to offer when downloading: the last part of whatever path the browser
/// sent, without control or quoting characters, at most [`MAX_NAME_CHARS`], and ending in an
/// extension of its real type.
pub fn display_name(given: &str, kind: FileType) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | ';' | '<' | '>' | '`'))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    let mut name = if cleaned.is_empty() { "file".to_owned() } else { cleaned };
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if !extension.is_some_and(|e| kind.extensions().contains(&e.as_str())) {
        name.push('.');
        name.push_str(kind.extension());
    }
    name
}

/// The title of a slide deck: its file name without the extension.
pub fn deck_title(display_name: &str) -> String {
    display_name.rsplit_once('.').map_or(display_name, |(stem, _)| stem).to_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    #[error("cannot write to the upload folder {dir}: {source}")]
    Write { dir: PathBuf, source: std::io::Error },
    #[error("cannot make a random name: {0}")]
    Random(getrandom::Error),
}

/// The folder uploads and rendered slides live in, each under a generated name.
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh name: 32 random hex digits and the extension.
    pub fn new_name(extension: &str) -> Result<String, FileStoreError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(FileStoreError::Random)?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("{hex}.{extension}"))
    }

    /// Keep `bytes` under a new name. The file appears whole or not at all (written aside, then
    /// renamed into place).
    pub fn save(&self, bytes: &[u8], extension: &str) -> Result<String, FileStoreError> {
        let name = Self::new_name(extension)?;
        let fail = |source| FileStoreError::Write { dir: self.dir.clone(), source };
        std::fs::create_dir_all(&self.dir).map_err(fail)?;
        let mut part = tempfile::NamedTempFile::new_in(&self.dir).map_err(fail)?;
        part.write_all(bytes).map_err(fail)?;
        part.as_file().sync_data().map_err(fail)?;
        part.persist(self.dir.join(&name)).map_err(|e| fail(e.error))?;
        Ok(name)
    }

    /// Where a stored file is, if `name` is one we could have generated: anything else (a path,
    /// `..`, another folder) is refused without touching the disk.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        is_generated_name(name).then(|| self.dir.join(name))
    }

    /// Remove a stored file; a missing one is not an error.
    pub fn remove(&self, name: &str) {
        if let Some(path) = self.path(name)
            && let Err(err) = std::fs::remove_file(&path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%err, file = name, "cannot remove an uploaded file");
        }
    }
}

/// 32 lowercase hex digits, a dot, and a short lowercase extension.
pub fn is_generated_name(name: &str) -> bool {
    let Some((stem, extension)) = name.split_once('.') else { return false };
    stem.len() == 32
        && stem.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && (1..=5).contains(&extension.len())
        && extension.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(FileType::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(FileType::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some(FileType::Jpeg));
        assert_eq!(sniff(b"GIF89a...."), Some(FileType::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(FileType::Webp));
        assert_eq!(sniff(b"PK\x03\x04rest of a docx"), Some(FileType::Zip));
        assert_eq!(sniff("Notes for week 3\nα, β, γ\tdone\r\n".as_bytes()), Some(FileType::Text));
        // Executables, markup a browser would run, binary junk and nothing at all are refused.
        for refused in [
            &b"MZ\x90\0\x03\0\0\0"[..],
            b"\x7fELF\x02\x01\x01",
            b"<!DOCTYPE html><script>alert(1)</script>",
            b"  <svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            b"<?xml version='1.0'?><svg/>",
            b"text with a \0 byte",
            b"\xff\xfe\xfd not utf-8",
            b"",
        ] {
            assert_eq!(sniff(refused), None, "{:?}", String::from_utf8_lossy(refused));
        }
        // A name or a claimed type changes nothing: the bytes of a PDF called photo.png are a PDF.
        assert_eq!(display_name("photo.png", sniff(b"%PDF-1.4").unwrap()), "photo.png.pdf");
    }

    #[test]
    fn shown_names_are_cleaned_and_typed() {
        assert_eq!(display_name("C:\\Users\\ana\\Week 3.pdf", FileType::Pdf), "Week 3.pdf");
        assert_eq!(display_name("../../etc/passwd", FileType::Text), "passwd.txt");
        assert_eq!(display_name("a\"; filename=evil.exe\r\n.pdf", FileType::Pdf), "a filename=evil.exe.pdf");
        assert_eq!(display_name("", FileType::Png), "file.png");
        assert_eq!(display_name("...hidden", FileType::Jpeg), "hidden.jpg");
        assert_eq!(display_name("REPORT.PDF", FileType::Pdf), "REPORT.PDF");
        assert_eq!(display_name("slides.pptx", FileType::Zip), "slides.pptx");
        assert_eq!(display_name(&"x".repeat(500), FileType::Pdf).chars().count(), MAX_NAME_CHARS + 4);
        assert_eq!(deck_title("Week 3.pdf"), "Week 3");
    }

    #[test]
    fn files_are_stored_under_generated_names_only() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::new(dir.path().join("files"));
        let name = files.save(b"%PDF-1.4 body", "pdf").unwrap();
        assert!(is_generated_name(&name), "{name}");
        assert_eq!(std::fs::read(files.path(&name).unwrap()).unwrap(), b"%PDF-1.4 body");
        // Only the file itself is left in the folder (no partial copies).
        assert_eq!(std::fs::read_dir(files.dir()).unwrap().count(), 1);
        for hostile in ["../lectern.db", "/etc/passwd", "a.pdf", &format!("{}.PDF", "a".repeat(32)), "", "."] {
            assert_eq!(files.path(hostile), None, "{hostile}");
        }
        files.remove(&name);
        files.remove(&name);
        assert!(files.path(&name).is_some_and(|p| !p.exists()));
    }
}
