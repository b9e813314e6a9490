//! `tokengate filter credential create|list|revoke`: what proxy-wasm filters present to
//! pull their configuration and push their audit records (`/tokengate/filter/…`).

use anyhow::{Result, bail};
use clap::Subcommand;

use super::{DataDir, audit_cli_action, cli_actor, format_time, open_store};

/// Longest filter credential name.
const MAX_CREDENTIAL_NAME: usize = 64;

/// `tokengate filter …`.
#[derive(Debug, Subcommand)]
pub enum FilterCommand {
    /// Filter credentials: one per fleet of filters, revocable.
    #[command(subcommand)]
    Credential(CredentialCommand),
}

/// `tokengate filter credential …`.
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Create a credential and print it (the only time it is shown): hand it to the
    /// filters as TOKENGATE_FILTER_CREDENTIAL.
    Create {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
        /// A name for the fleet (letters, digits, `.`, `_`, `-`): the audit log names
        /// each filter instance `NAME/INSTANCE` (`via`). Never reused.
        #[arg(long)]
        name: String,
    },
    /// List credentials (a hint of each, never the value).
    List {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a credential by name or id: its filters are refused at their next call.
    Revoke {
        /// Where the data lives.
        #[command(flatten)]
        data: DataDir,
        /// The credential's name or id.
        name: String,
    },
}

/// Runs `tokengate filter …`.
pub async fn run(command: FilterCommand) -> Result<()> {
    let FilterCommand::Credential(command) = command;
    match command {
        CredentialCommand::Create { data, name } => {
            let valid = !name.is_empty()
                && name.len() <= MAX_CREDENTIAL_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                bail!(
                    "--name: 1 to {MAX_CREDENTIAL_NAME} letters, digits, `.`, `_` or `-`, got {name:?}"
                );
            }
            let store = open_store(&data).await?;
            let (credential, value) = store.create_credential(&name, Some(cli_actor())).await?;
            audit_cli_action(
                &store,
                tokengate_policy_artifact::COMPONENT_SHA256,
                format!(
                    "created filter credential {} ({})",
                    credential.name, credential.id
                ),
                None,
            )
            .await?;
            println!("{value}");
            eprintln!(
                "created filter credential {} (shown once; only its digest is stored)",
                credential.name
            );
            Ok(())
        }
        CredentialCommand::List { data } => {
            let store = open_store(&data).await?;
            println!(
                "{:<20}  {:<24}  {:<12}  {:<24}  revoked",
                "id", "name", "hint", "created"
            );
            for credential in store.credentials().await? {
                println!(
                    "{:<20}  {:<24}  {:<12}  {:<24}  {}",
                    credential.id,
                    credential.name,
                    credential.hint,
                    format_time(credential.created),
                    credential.revoked.map_or("-".into(), format_time)
                );
            }
            Ok(())
        }
        CredentialCommand::Revoke { data, name } => {
            let store = open_store(&data).await?;
            let Some(credential) = store.revoke_credential(&name).await? else {
                bail!("no live filter credential is named {name:?} or has that id");
            };
            audit_cli_action(
                &store,
                tokengate_policy_artifact::COMPONENT_SHA256,
                format!(
                    "revoked filter credential {} ({})",
                    credential.name, credential.id
                ),
                None,
            )
            .await?;
            println!("revoked {}", credential.name);
            Ok(())
        }
    }
}
