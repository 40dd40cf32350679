//! Where `lockctl` finds its URL and key: `LOCK_API_URL` and
//! `LOCK_API_KEY`, then `$XDG_CONFIG_HOME/lockctl/config.toml` (default
//! `~/.config/lockctl/config.toml`), which `lockctl signup` writes with mode
//! 0600.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use lock_client::{Error, KEY_ENV, URL_ENV};

/// The config file's contents.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The service's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Config {
    /// The config file's path: `$XDG_CONFIG_HOME/lockctl/config.toml`, or
    /// `$HOME/.config/lockctl/config.toml`.
    pub fn path() -> Result<PathBuf, Error> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
            .ok_or_else(|| Error::Config("neither XDG_CONFIG_HOME nor HOME is set".into()))?;
        Ok(base.join("lockctl").join("config.toml"))
    }

    /// The config file, or an empty config if there is none.
    pub fn load() -> Result<Self, Error> {
        let path = Self::path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::Config(format!("{}: {e}", path.display()))),
        }
    }

    /// The file's values overridden by the environment's.
    pub fn from_env() -> Result<Self, Error> {
        let file = Self::load()?;
        let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Self {
            url: env(URL_ENV).or(file.url),
            api_key: env(KEY_ENV).or(file.api_key),
        })
    }

    /// Writes the file (mode 0600, its folder 0700), replacing it whole.
    pub fn save(&self) -> Result<PathBuf, Error> {
        let path = Self::path()?;
        let fail = |e: std::io::Error| Error::Config(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(fail)?;
        }
        let text = toml::to_string(self).map_err(|e| Error::Config(e.to_string()))?;
        // Written beside it and renamed, so a reader never sees half a file;
        // created 0600, so the key is never readable by others.
        let partial = path.with_extension("toml.partial");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(fail)?;
        // `mode` applies only to a new file; a stale one keeps its own.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&partial, &path).map_err(fail)?;
        Ok(path)
    }
}
