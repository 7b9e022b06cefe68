//! The wording of each [`Problem`] (what cannot be done, as a code in [`crate::protocol`]),
//! in English (its `Display`, the sentence on the wire) and in Simplified Chinese.

use std::fmt;

use super::Lang;
use crate::protocol::{Problem, Refusal};

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::protocol::{
            ATTACHMENTS_PER_MESSAGE, CUSTOMER_NOTE_MAX_CHARS, HOST_IDENTITY_MAX_SECS,
            MESSAGE_MAX_CHARS, NAME_MAX_CHARS, PASSWORD_MIN_CHARS, RATING_COMMENT_MAX_CHARS,
            REPORT_MAX_DAYS, SEARCH_MAX_CHARS, SEARCH_MAX_WORDS, WEBHOOK_URL_MAX_CHARS,
        };
        match self {
            Problem::NameEmpty => f.write_str("Please enter a name."),
            Problem::NameTooLong => {
                write!(f, "A name can have at most {NAME_MAX_CHARS} characters.")
            }
            Problem::NameControlChars => f.write_str("A name cannot contain control characters."),
            Problem::NameInvisibleChars => f.write_str(
                "A name cannot contain invisible characters (such as zero-width spaces or direction marks).",
            ),
            Problem::NameTaken => f.write_str("That name is already taken. Please choose another."),
            Problem::NameReserved => {
                f.write_str("That name is (or looks like) a support agent's. Please choose another.")
            }
            Problem::WrongPassword => f.write_str("Wrong agent name or password."),
            Problem::AgentPasswordMissing => f.write_str("Agents must enter their password."),
            Problem::AlreadyLoggedIn(name) => write!(f, "You are already logged in as {name}."),
            Problem::NotLoggedIn => f.write_str("Please log in first."),
            Problem::MessageEmpty => f.write_str("A message cannot be empty."),
            Problem::MessageTooLong => {
                write!(f, "A message can have at most {MESSAGE_MAX_CHARS} characters.")
            }
            Problem::UnknownRecipient(name) => write!(f, "{name} is not online."),
            Problem::RecipientNotAllowed(name) => {
                write!(f, "{name} is not a support agent who is online. You can write to the agents in your list.")
            }
            Problem::MessageToSelf => f.write_str("You cannot send a message to yourself."),
            Problem::NoRecipient => f.write_str("Choose who to write to."),
            Problem::AgentsOnly => f.write_str("Only support agents can do that."),
            Problem::AlreadyAssigned => f.write_str("A colleague already has this conversation."),
            Problem::NotYours => f.write_str("This conversation is not assigned to you."),
            Problem::UnknownAgent(name) => write!(f, "There is no agent called {name}."),
            Problem::AdminsOnly => f.write_str("Only admins can do that."),
            Problem::PasswordTooShort => {
                write!(f, "A password needs at least {PASSWORD_MIN_CHARS} characters.")
            }
            Problem::AgentExists(name) => write!(f, "There is already an agent called {name}."),
            Problem::RemoveSelf => f.write_str("You cannot remove your own account."),
            Problem::BadShortcut => {
                f.write_str("A shortcut is 1 to 32 lower-case letters, digits, '-' or '_'.")
            }
            Problem::Malformed(event) => {
                write!(f, "The server could not read that {event} request.")
            }
            Problem::BadClientId => f.write_str(
                "A client message id must be 1 to 64 letters, digits, '-', '_', '.' or ':'.",
            ),
            Problem::AgentToAgent => f.write_str("Agents can write to customers only."),
            Problem::UnknownConversation => f.write_str("There is no such conversation."),
            Problem::SessionExpired => f.write_str("Your session has ended. Please log in again."),
            Problem::NotSaved => f.write_str(
                "Your message could not be saved, so it was not sent. Please try again.",
            ),
            Problem::SlowDown(s) => {
                write!(f, "You are sending too fast. Please wait {s} s and try again.")
            }
            Problem::TooManyAttempts(s) => {
                write!(f, "Too many failed logins. Please wait {s} s and try again.")
            }
            Problem::TooManyConnections => f.write_str(
                "Too many connections from your network. Please close some tabs and try again.",
            ),
            Problem::UnknownEvent(event) => {
                write!(f, "The server does not know the event {event:?}.")
            }
            Problem::IdentityInvalid => {
                f.write_str("The site you came from could not be verified. Please reload the page.")
            }
            Problem::IdentityExpired => f.write_str(
                "Your sign-in from the site you came from has expired. Please reload the page.",
            ),
            Problem::IdentityExpiresTooLate => write!(
                f,
                "The site you came from signed you in for too long (at most {} hours ahead). Please tell the site.",
                HOST_IDENTITY_MAX_SECS / 3600
            ),
            Problem::IdentityNotAccepted => {
                f.write_str("This chat does not take sign-ins from other sites.")
            }
            Problem::EmailInvalid => f.write_str("That does not look like an e-mail address."),
            Problem::AttachmentTooLarge(mb) => {
                write!(f, "That file is too large: files can be at most {mb} MB.")
            }
            Problem::AttachmentType => f.write_str(
                "That type of file cannot be sent. Images (PNG, JPEG, GIF, WebP), PDF, text, ZIP and office documents can.",
            ),
            Problem::AttachmentEmpty => f.write_str("That file is empty."),
            Problem::ImageUnreadable => f.write_str("That image could not be read; it may be damaged."),
            Problem::TooManyAttachments => write!(
                f,
                "A message can carry at most {ATTACHMENTS_PER_MESSAGE} files."
            ),
            Problem::UnknownAttachment => f.write_str("That file is not available. Please upload it again."),
            Problem::SearchEmpty => f.write_str("Type something to search for."),
            Problem::SearchTooManyWords => {
                write!(f, "Search for at most {SEARCH_MAX_WORDS} words.")
            }
            Problem::SearchTooShort => f.write_str("Search for at least two characters."),
            Problem::CustomerNoteTooLong => write!(
                f,
                "A note on a customer can be at most {CUSTOMER_NOTE_MAX_CHARS} characters."
            ),
            Problem::RatingScore => f.write_str("Please pick from 1 to 5 stars."),
            Problem::RatingCommentTooLong => write!(
                f,
                "A comment can be at most {RATING_COMMENT_MAX_CHARS} characters."
            ),
            Problem::AlreadyRated => f.write_str("You have rated this conversation already. Thank you!"),
            Problem::RatingsOff => f.write_str("This support desk does not take ratings."),
            Problem::NotRateable => {
                f.write_str("This conversation is not waiting for a rating.")
            }
            Problem::CustomersOnly => f.write_str("Only the customer can do that."),
            Problem::SetupLinkInvalid => f.write_str(
                "This setup link does not work (any more): it was used already, or the server has restarted since. If nobody has an account yet, the server's log shows a new link.",
            ),
            Problem::SetupOnlyLocal => f.write_str(
                "The setup link works only in a browser on the server's own machine (or start the server with SETUP_REMOTE=true).",
            ),
            Problem::SearchTooLong => {
                write!(f, "Search for at most {SEARCH_MAX_CHARS} characters.")
            }
            Problem::ReportPeriodInvalid => write!(
                f,
                "Choose a first and a last day (the first not after the last), at most {REPORT_MAX_DAYS} days apart."
            ),
            Problem::ApiTokenInvalid => f.write_str(
                "This API token does not work: it is missing, unknown or revoked. Send it as \"Authorization: Bearer <token>\".",
            ),
            Problem::ApiReadOnly => f.write_str("This API token may only read."),
            Problem::ApiWriter => f.write_str(
                "Name the agent (\"agent\") or the bot (\"bot\") who sends the message: one of the two.",
            ),
            Problem::WebhookUrlInvalid => write!(
                f,
                "Enter the webhook's address as an http:// or https:// URL of at most {WEBHOOK_URL_MAX_CHARS} characters."
            ),
            Problem::WebhookNoEvents => f.write_str("Choose at least one event to send."),
            Problem::Internal => {
                f.write_str("Something went wrong on the server. Please try again.")
            }
        }
    }
}

impl Problem {
    /// The problem in `lang`.
    pub fn in_lang(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::ZhCn => self.zh_cn(),
        }
    }

    /// The problem in Simplified Chinese.
    fn zh_cn(&self) -> String {
        use crate::protocol::{
            ATTACHMENTS_PER_MESSAGE, CUSTOMER_NOTE_MAX_CHARS, HOST_IDENTITY_MAX_SECS,
            MESSAGE_MAX_CHARS, NAME_MAX_CHARS, PASSWORD_MIN_CHARS, RATING_COMMENT_MAX_CHARS,
            REPORT_MAX_DAYS, SEARCH_MAX_CHARS, SEARCH_MAX_WORDS, WEBHOOK_URL_MAX_CHARS,
        };
        match self {
            Problem::NameEmpty => "请输入名字。".into(),
            Problem::NameTooLong => format!("名字最多 {NAME_MAX_CHARS} 个字符。"),
            Problem::NameControlChars => "名字不能包含控制字符。".into(),
            Problem::NameInvisibleChars => {
                "名字不能包含不可见字符（如零宽空格或文字方向标记）。".into()
            }
            Problem::NameTaken => "这个名字已被占用，请换一个。".into(),
            Problem::NameReserved => "这个名字属于（或看起来像）一位客服，请换一个。".into(),
            Problem::WrongPassword => "客服名或密码错误。".into(),
            Problem::AgentPasswordMissing => "客服必须输入密码。".into(),
            Problem::AlreadyLoggedIn(name) => format!("您已经以 {name} 的身份登录。"),
            Problem::NotLoggedIn => "请先登录。".into(),
            Problem::MessageEmpty => "消息不能为空。".into(),
            Problem::MessageTooLong => format!("消息最多 {MESSAGE_MAX_CHARS} 个字符。"),
            Problem::UnknownRecipient(name) => format!("{name} 不在线。"),
            Problem::RecipientNotAllowed(name) => {
                format!("{name} 不是在线的客服。您可以给列表中的客服发消息。")
            }
            Problem::MessageToSelf => "不能给自己发消息。".into(),
            Problem::NoRecipient => "请选择发送对象。".into(),
            Problem::AgentsOnly => "只有客服可以这样做。".into(),
            Problem::AlreadyAssigned => "另一位同事已在处理这个会话。".into(),
            Problem::NotYours => "这个会话没有分配给您。".into(),
            Problem::UnknownAgent(name) => format!("没有名为 {name} 的客服。"),
            Problem::AdminsOnly => "只有管理员可以这样做。".into(),
            Problem::PasswordTooShort => format!("密码至少需要 {PASSWORD_MIN_CHARS} 个字符。"),
            Problem::AgentExists(name) => format!("已经有名为 {name} 的客服。"),
            Problem::RemoveSelf => "不能移除自己的账号。".into(),
            Problem::BadShortcut => "快捷键为 1 到 32 个小写字母、数字、“-”或“_”。".into(),
            Problem::Malformed(event) => format!("服务器无法读取这个 {event} 请求。"),
            Problem::BadClientId => {
                "客户端消息编号必须是 1 到 64 个字母、数字、“-”、“_”、“.”或“:”。".into()
            }
            Problem::AgentToAgent => "客服只能给顾客发消息。".into(),
            Problem::UnknownConversation => "没有这个会话。".into(),
            Problem::SessionExpired => "您的会话已结束，请重新登录。".into(),
            Problem::NotSaved => "您的消息未能保存，因此没有发送。请重试。".into(),
            Problem::SlowDown(s) => format!("您发送得太快了。请等待 {s} 秒后重试。"),
            Problem::TooManyAttempts(s) => format!("登录失败次数过多。请等待 {s} 秒后重试。"),
            Problem::TooManyConnections => "来自您网络的连接过多。请关闭一些标签页后重试。".into(),
            Problem::UnknownEvent(event) => format!("服务器不认识事件 {event:?}。"),
            Problem::IdentityInvalid => "无法验证您来自的网站，请刷新页面。".into(),
            Problem::IdentityExpired => "您从来源网站带来的登录已过期，请刷新页面。".into(),
            Problem::IdentityExpiresTooLate => format!(
                "来源网站给您的登录有效期过长（最多 {} 小时）。请告知该网站。",
                HOST_IDENTITY_MAX_SECS / 3600
            ),
            Problem::IdentityNotAccepted => "本聊天不接受来自其他网站的登录身份。".into(),
            Problem::EmailInvalid => "这看起来不像电子邮箱地址。".into(),
            Problem::AttachmentTooLarge(mb) => format!("文件太大：文件最大 {mb} MB。"),
            Problem::AttachmentType => {
                "不能发送这种类型的文件。可以发送图片（PNG、JPEG、GIF、WebP）、PDF、文本、ZIP 和办公文档。".into()
            }
            Problem::AttachmentEmpty => "这个文件是空的。".into(),
            Problem::ImageUnreadable => "无法读取这张图片，它可能已损坏。".into(),
            Problem::TooManyAttachments => {
                format!("一条消息最多可以带 {ATTACHMENTS_PER_MESSAGE} 个文件。")
            }
            Problem::UnknownAttachment => "这个文件已不可用，请重新上传。".into(),
            Problem::SearchEmpty => "请输入要搜索的内容。".into(),
            Problem::SearchTooManyWords => format!("最多搜索 {SEARCH_MAX_WORDS} 个词。"),
            Problem::SearchTooShort => "请至少输入两个字符。".into(),
            Problem::CustomerNoteTooLong => {
                format!("顾客备注最多 {CUSTOMER_NOTE_MAX_CHARS} 个字符。")
            }
            Problem::RatingScore => "请选择 1 到 5 颗星。".into(),
            Problem::RatingCommentTooLong => {
                format!("评价内容最多 {RATING_COMMENT_MAX_CHARS} 个字符。")
            }
            Problem::AlreadyRated => "您已经评价过这次对话，谢谢！".into(),
            Problem::RatingsOff => "本客服不接受评价。".into(),
            Problem::NotRateable => "这个对话目前无需评价。".into(),
            Problem::CustomersOnly => "只有顾客本人可以这样做。".into(),
            Problem::SetupLinkInvalid => {
                "此设置链接已失效：它已被使用过，或服务器已重启。如果还没有人有账号，服务器日志中会显示新的链接。".into()
            }
            Problem::SetupOnlyLocal => {
                "设置链接只能在服务器本机的浏览器中打开（或以 SETUP_REMOTE=true 启动服务器）。".into()
            }
            Problem::SearchTooLong => format!("搜索内容最多 {SEARCH_MAX_CHARS} 个字符。"),
            Problem::ReportPeriodInvalid => {
                format!("请选择开始日期和结束日期（开始不晚于结束），相隔最多 {REPORT_MAX_DAYS} 天。")
            }
            Problem::ApiTokenInvalid => {
                "此 API 令牌无效：缺失、未知或已被撤销。请以 \"Authorization: Bearer <令牌>\" 发送。".into()
            }
            Problem::ApiReadOnly => "此 API 令牌只能读取。".into(),
            Problem::ApiWriter => {
                "请指定发送消息的客服（\"agent\"）或机器人（\"bot\"），二者选一。".into()
            }
            Problem::WebhookUrlInvalid => {
                format!("请输入以 http:// 或 https:// 开头、最多 {WEBHOOK_URL_MAX_CHARS} 个字符的 Webhook 地址。")
            }
            Problem::WebhookNoEvents => "请至少选择一个要发送的事件。".into(),
            Problem::Internal => "服务器出错了，请重试。".into(),
        }
    }
}

impl Refusal {
    /// The sentence in `lang` (in English when the problem is not known).
    pub fn in_lang(&self, lang: Lang) -> String {
        match (&self.problem, lang) {
            (Some(problem), lang) => problem.in_lang(lang),
            (None, _) => self.text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_has_a_code_and_a_chinese_sentence() {
        let problems = [
            Problem::NameTaken,
            Problem::SlowDown(3),
            Problem::UnknownRecipient("ann".into()),
            Problem::SearchEmpty,
            Problem::SearchTooLong,
            Problem::SearchTooManyWords,
            Problem::SearchTooShort,
            Problem::CustomerNoteTooLong,
            Problem::EmailInvalid,
            Problem::RatingScore,
            Problem::RatingCommentTooLong,
            Problem::AlreadyRated,
            Problem::RatingsOff,
            Problem::NotRateable,
            Problem::CustomersOnly,
            Problem::ReportPeriodInvalid,
            Problem::ApiTokenInvalid,
            Problem::ApiReadOnly,
            Problem::ApiWriter,
            Problem::WebhookUrlInvalid,
            Problem::WebhookNoEvents,
            Problem::Internal,
        ];
        for problem in problems {
            let wire = serde_json::to_value(&problem).unwrap();
            assert!(wire["code"].is_string(), "{wire}");
            assert_eq!(serde_json::from_value::<Problem>(wire).unwrap(), problem);
            let zh = problem.in_lang(Lang::ZhCn);
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{zh}");
            assert_ne!(zh, problem.in_lang(Lang::En));
        }
        assert_eq!(
            serde_json::to_value(Problem::SlowDown(3)).unwrap(),
            serde_json::json!({"code": "slow_down", "arg": 3})
        );
        assert_eq!(Problem::SlowDown(3).in_lang(Lang::ZhCn), "您发送得太快了。请等待 3 秒后重试。");
    }

    #[test]
    fn a_refusal_is_the_sentence_then_the_code() {
        let wire = serde_json::to_value(Refusal::from(Problem::NameTaken)).unwrap();
        assert_eq!(
            wire,
            serde_json::json!(["That name is already taken. Please choose another.", {"code": "name_taken"}])
        );
        assert_eq!(
            serde_json::to_value(Refusal::from("plain")).unwrap(),
            serde_json::json!("plain")
        );
    }
}
