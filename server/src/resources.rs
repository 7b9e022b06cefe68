//! The REST API's resources ([`app::protocol::ApiConversation`] …) made from the model:
//! what the API answers and what webhooks send, in one shape.

use app::protocol::{ApiAttachment, ApiAuthor, ApiConversation, ApiCustomerRef, ApiMessage};

use crate::model::{ConversationMeta, Identity, StoredMessage};

/// A conversation as the API shows it (`updated_at`: its last activity, when known).
pub fn conversation(meta: &ConversationMeta, updated_at: Option<u64>) -> ApiConversation {
    ApiConversation {
        id: meta.id.0,
        customer: ApiCustomerRef { id: meta.customer.0, name: meta.customer_name.to_string() },
        status: meta.status,
        assignee: meta.assignee.as_ref().map(|a| a.name.to_string()),
        last_seq: meta.last_seq,
        unread: meta.unread.len() as u64,
        updated_at,
    }
}

/// A message as the API shows it: a bot's (a key no account has) told apart from an agent's.
pub fn message(m: &StoredMessage) -> ApiMessage {
    let author = match &m.author {
        Identity::Customer(_) => ApiAuthor::Customer,
        Identity::Agent(key) if key.is_account() => ApiAuthor::Agent,
        Identity::Agent(_) => ApiAuthor::Bot,
    };
    ApiMessage {
        id: m.id.0,
        conversation: m.conversation.0,
        seq: m.seq,
        author,
        from: m.from.to_string(),
        text: m.text.clone(),
        ts: m.ts,
        client_id: m.client_id.as_ref().map(|c| c.as_str().to_owned()),
        attachments: m
            .attachments
            .iter()
            .map(|a| ApiAttachment {
                name: a.name.clone(),
                mime: a.mime.clone(),
                size: a.size,
                url: a.url(),
            })
            .collect(),
    }
}
