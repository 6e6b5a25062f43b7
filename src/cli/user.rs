//! `saferplaces user ...`: create users (the token shown once) and revoke their tokens.

use std::process::ExitCode;

use super::common::{
    DataDirArg, cli_event, data_dir_settings, open_audit, open_store, out, unix_rfc3339,
};
use crate::domain::Role;
use crate::safeguards::audit;
use crate::safeguards::tokens::{self, new_token, token_hash};
use crate::store::NewUser;

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the new bearer token as the last line. The token is shown once and
    /// stored only as a hash.
    Add {
        #[command(flatten)]
        dir: DataDirArg,
        /// Unique name of the person using the account.
        #[arg(long)]
        name: String,
        #[arg(
            long,
            help = "planner, vru_analyst, police_analyst, mace_member, auditor, admin or equality_monitor"
        )]
        role: String,
        /// Organisation.
        #[arg(long)]
        org: Option<String>,
        #[arg(
            long = "panel",
            help = "MACE panel the user sits on (repeatable; for mace_member)"
        )]
        panels: Vec<u32>,
        /// How long the token is accepted: a whole number and d, h, m or s (e.g. 30d, 12h,
        /// 90m); at most 365d.
        #[arg(long, default_value = "30d", value_parser = crate::safeguards::tokens::parse_lifetime)]
        expires_in: std::time::Duration,
    },
    /// Revoke a user's token at once (a running server refuses it within a second); the user
    /// row is kept for the audit trail.
    Revoke {
        #[command(flatten)]
        dir: DataDirArg,
        /// The user's name.
        name: String,
    },
}

/// `saferplaces user ...`.
pub(crate) fn run(command: UserCommand) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add {
            dir,
            name,
            role,
            org,
            panels,
            expires_in,
        } => {
            let s = data_dir_settings(dir)?;
            let role: Role = role.parse()?;
            anyhow::ensure!(role.assignable(), "role {role} cannot be given to a user");
            let mut store = open_store(&s)?;
            store.writable("add a user")?;
            let audit = open_audit(&s)?;
            let token = new_token()?;
            let expires = tokens::expires_at(tokens::unix_now_s(), expires_in);
            let id = store.add_user(&NewUser {
                name: name.clone(),
                role,
                org: org.clone(),
                panels,
                token_hash: token_hash(&token),
                token_expires_at: expires,
            })?;
            let mut e = cli_event(audit::AuditEventType::Collection, "admin");
            e.query = serde_json::json!({"command": "user add", "user": name, "role": role.code(), "org": org, "token_expires_at": unix_rfc3339(expires)});
            audit.append(e)?;
            out(&format!(
                "created user {name} (id {id}, role {role}); the token expires {}; it is shown once:",
                unix_rfc3339(expires)
            ))?;
            out(&token)?;
        }
        UserCommand::Revoke { dir, name } => {
            let s = data_dir_settings(dir)?;
            let mut store = open_store(&s)?;
            store.writable("revoke a token")?;
            let audit = open_audit(&s)?;
            let Some(user) = store.revoke_user(&name, tokens::unix_now_s())? else {
                anyhow::bail!("no user called {name:?}");
            };
            let revoked_at = unix_rfc3339(user.token_revoked_at.unwrap_or_default());
            let mut e = cli_event(audit::AuditEventType::Alteration, "admin");
            e.query = serde_json::json!({"command": "user revoke", "user": name, "revoked_at": revoked_at});
            audit.append(e)?;
            out(&format!(
                "revoked the token of {name} (id {}) as of {revoked_at}; the user is kept for the audit trail",
                user.id
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
