//! Every sentence a person reads, in one place, in English and Simplified Chinese.
//!
//! Owns: the human-readable errors the server sends (`login_error`, `error`; English on the
//! wire, for the tutorial's clients, with the [`Problem`] beside it as a code that clients
//! word in their reader's language) and the labels of the UI, per [`Lang`]. Must not: decide
//! anything; callers pick the [`Problem`], this module only words it.
//!
//! The labels are in this file; the wording of each [`Problem`] in `problem.rs`.
//!
//! [`Problem`]: crate::protocol::Problem

mod problem;

use serde::{Deserialize, Serialize};

/// A language the UI speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// Its BCP 47 tag (for `<html lang>` and the cookie that remembers the choice).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// Its name, in itself (for the language switch).
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhCn => "简体中文",
        }
    }

    /// The language a tag asks for, if we speak it (`zh`, `zh-CN`, `zh-Hans-SG`: Chinese).
    pub fn of_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::ZhCn),
            _ => None,
        }
    }

    /// The first language we speak in a browser's preference (`Accept-Language`, highest
    /// `q` first), or English.
    pub fn preferred(accept_language: &str) -> Lang {
        let mut ranked: Vec<(f32, usize, &str)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut fields = part.split(';');
                let tag = fields.next()?.trim();
                let q = fields
                    .find_map(|f| f.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.iter().find_map(|(_, _, tag)| Lang::of_tag(tag)).unwrap_or_default()
    }

    pub fn ui(self) -> &'static Ui {
        match self {
            Lang::En => &EN,
            Lang::ZhCn => &ZH_CN,
        }
    }
}

impl Ui {
    /// The words for a score of 1 to 5 (a rating).
    pub fn score_word(&self, score: u8) -> &'static str {
        match score {
            1 => self.rate_1,
            2 => self.rate_2,
            3 => self.rate_3,
            4 => self.rate_4,
            _ => self.rate_5,
        }
    }

    /// Where a conversation stands, in a word.
    pub fn status(&self, status: crate::protocol::Status) -> &'static str {
        use crate::protocol::Status;
        match status {
            Status::New => self.status_new,
            Status::Queued => self.status_queued,
            Status::Open => self.status_open,
            Status::Resolved => self.status_resolved,
        }
    }

    /// Where a conversation stands, with who has it while it is open ("open · amy").
    pub fn status_with(
        &self,
        status: crate::protocol::Status,
        assignee: Option<&crate::protocol::UserName>,
    ) -> String {
        match (status, assignee) {
            (crate::protocol::Status::Open, Some(a)) => format!("{} · {a}", self.status_open),
            (status, _) => self.status(status).to_owned(),
        }
    }

    /// "Usually answers in …", for the team's typical first answer (`ms`), rounded up to
    /// what a customer can plan with.
    pub fn usually_answers(&self, ms: u64) -> &'static str {
        const MIN: u64 = 60_000;
        match ms {
            ms if ms <= MIN => self.answers_within_a_minute,
            ms if ms <= 10 * MIN => self.answers_in_minutes,
            ms if ms <= 60 * MIN => self.answers_within_an_hour,
            ms if ms <= 6 * 60 * MIN => self.answers_within_hours,
            _ => self.answers_within_a_day,
        }
    }
}

/// The cookie that remembers a reader's language choice (read when the page is rendered).
pub const LANG_COOKIE: &str = "chat_lang";

/// The labels of the UI (a field each), and all of them at once (for tests).
macro_rules! labels {
    ($($field:ident),* $(,)?) => {
        pub struct Ui {
            $(pub $field: &'static str,)*
        }

        impl Ui {
            pub fn all(&self) -> Vec<&'static str> {
                vec![$(self.$field),*]
            }
        }
    };
}

labels!(
    title,
    language_label,
    closed_notice,
    closed_leave_message,
    email_label,
    question_label,
    login_heading,
    setup_heading,
    setup_intro,
    setup_name_label,
    setup_password_label,
    setup_again_label,
    setup_button,
    setup_busy,
    passwords_differ,
    name_label,
    agent_switch,
    password_label,
    login_button,
    logging_in,
    you_suffix,
    agent_badge,
    no_agents_online,
    message_placeholder,
    send_button,
    no_messages,
    dismiss,
    logged_in_as,
    log_out,
    conn_connecting,
    conn_online,
    conn_offline,
    conn_retry_in,
    offline_send_hint,
    you,
    conversations_heading,
    support_team,
    online_now,
    more_online,
    answers_within_a_minute,
    answers_in_minutes,
    answers_within_an_hour,
    answers_within_hours,
    answers_within_a_day,
    pick_conversation,
    offline_badge,
    load_older,
    pending,
    not_sent,
    retry,
    mine_heading,
    queue_heading,
    others_heading,
    take,
    resolve,
    transfer,
    transfer_to,
    transfer_note,
    note_from_transfer,
    status_queued,
    status_open,
    status_resolved,
    status_new,
    offline_action,
    cannot_reach_server,
    new_message_from,
    is_typing,
    internal_note,
    read_receipt,
    today,
    yesterday,
    composer_hint,
    away_badge,
    busy_badge,
    online_badge,
    my_status_label,
    agent_online,
    agent_away,
    agent_busy,
    admin_badge,
    team_heading,
    add_agent,
    admin_label,
    remove,
    remove_agent_confirm,
    canned_heading,
    shortcut_label,
    reply_label,
    save,
    attach_files,
    uploading,
    cancel_upload,
    remove_upload,
    upload_broken,
    download,
    open_image,
    close,
    drop_files,
    file_unavailable,
    search_label,
    search_placeholder,
    search_button,
    search_results_for,
    search_close,
    search_customers,
    search_messages,
    search_nothing,
    search_more,
    searching,
    found_by_name,
    found_by_user_id,
    found_by_number,
    transcript_title,
    transcript_made,
    transcript_file,
    transcript_download,
    transcript_as_text,
    transcript_as_html,
    more_conversations,
    transcript_cut,
    report_day,
    report_agent,
    report_conversations,
    report_resolved,
    report_customer_messages,
    report_agent_messages,
    report_messages,
    report_first_response_median,
    report_first_response_p90,
    report_resolution_median,
    report_resolution_p90,
    report_ratings,
    report_rating_average,
    report_satisfied,
    reports_heading,
    report_from,
    report_to,
    report_show,
    report_counting,
    report_chart_title,
    report_chart_summary,
    report_days_table,
    report_first_response,
    report_resolution,
    report_queue_wait,
    report_median_p90,
    report_none,
    report_ratings_summary,
    report_download_days,
    report_download_agents,
    report_seconds,
    report_minutes,
    report_hours,
    profile_heading,
    profile_email,
    profile_user_id,
    profile_page,
    profile_language,
    profile_time_zone,
    profile_first_seen,
    profile_note,
    profile_note_by,
    profile_save,
    profile_saved,
    profile_others,
    profile_not_given,
    profile_loading,
    profile_attributes,
    profile_others_hint,
    rate_heading,
    rate_1,
    rate_2,
    rate_3,
    rate_4,
    rate_5,
    rate_comment,
    rate_send,
    rate_thanks,
    rating_line,
    rating_of,
    csat_setting,
    integrations_heading,
    integrations_intro,
    tokens_heading,
    tokens_none,
    token_name,
    token_write,
    token_make,
    token_made,
    token_read_only,
    token_read_write,
    token_last_used,
    token_never_used,
    token_revoke,
    webhooks_heading,
    webhooks_none,
    webhook_url,
    webhook_events,
    webhook_add,
    webhook_secret_made,
    webhook_remove,
    webhook_deliveries,
    webhook_no_deliveries,
    delivery_delivered,
    delivery_retrying,
    delivery_given_up,
    delivery_attempts,
    delivery_pending,
    event_conversation_created,
    event_message_created,
    event_conversation_resolved,
    event_rating_given,
);

pub const EN: Ui = Ui {
    title: "Support chat",
    language_label: "Language",
    closed_notice: "We are closed right now. Our hours:",
    closed_leave_message: "Leave a message: we will answer when we are back.",
    email_label: "E-mail (optional)",
    question_label: "Your question (optional)",
    login_heading: "Chat with our support team",
    setup_heading: "Create the first admin",
    setup_intro: "Nobody has an account yet. The account you create here is an admin: it sees every conversation and adds the rest of the team. This link works once.",
    setup_name_label: "Your name (as customers will see it)",
    setup_password_label: "Password (at least 8 characters)",
    setup_again_label: "Password again",
    setup_button: "Create the admin and log in",
    setup_busy: "Creating…",
    passwords_differ: "The two passwords differ.",
    name_label: "Your name",
    agent_switch: "I am an agent",
    password_label: "Password",
    login_button: "Start chatting",
    logging_in: "Logging in…",
    you_suffix: " (you)",
    agent_badge: "agent",
    no_agents_online:
        "No agent is online right now. Write anyway: your message waits for the first agent.",
    message_placeholder: "Write a message…",
    send_button: "Send",
    no_messages: "No messages yet.",
    dismiss: "Dismiss",
    logged_in_as: "Logged in as",
    log_out: "Log out",
    conn_connecting: "Connecting…",
    conn_online: "Connected",
    conn_offline: "Disconnected",
    conn_retry_in: "reconnecting in",
    offline_send_hint:
        "You are offline. What you write now is sent as soon as the connection is back.",
    you: "You",
    conversations_heading: "Conversations",
    support_team: "Support team",
    online_now: "Online now",
    more_online: "more online",
    answers_within_a_minute: "Usually answers within a minute",
    answers_in_minutes: "Usually answers in a few minutes",
    answers_within_an_hour: "Usually answers within an hour",
    answers_within_hours: "Usually answers within a few hours",
    answers_within_a_day: "Usually answers within a day",
    pick_conversation: "Choose a conversation",
    offline_badge: "offline",
    load_older: "Load older messages",
    pending: "Sending…",
    not_sent: "Not sent:",
    retry: "Retry",
    mine_heading: "Mine",
    queue_heading: "Waiting",
    others_heading: "Others",
    take: "Take",
    resolve: "Resolve",
    transfer: "Transfer",
    transfer_to: "Agent",
    transfer_note: "Note for the next agent",
    note_from_transfer: "Note:",
    status_queued: "waiting",
    status_open: "open",
    status_resolved: "resolved",
    status_new: "new",
    offline_action: "You are offline; try again once the connection is back.",
    cannot_reach_server: "Cannot reach the server. Check the connection and try again.",
    new_message_from: "New message from",
    is_typing: "is typing…",
    internal_note: "Internal note",
    read_receipt: "Read",
    today: "Today",
    yesterday: "Yesterday",
    composer_hint: "Enter sends; Shift+Enter starts a new line (on a touch screen, Enter starts a line and the Send button sends).",
    away_badge: "away",
    busy_badge: "busy",
    online_badge: "online",
    my_status_label: "My status",
    agent_online: "Online",
    agent_away: "Away",
    agent_busy: "Busy (no chats from the queue)",
    admin_badge: "admin",
    team_heading: "Team",
    add_agent: "Add agent",
    admin_label: "Admin (sees every conversation, manages the team)",
    remove: "Remove",
    remove_agent_confirm: "Remove {name} from the team? The API tokens and webhooks they made are removed with them.",
    canned_heading: "Canned replies",
    shortcut_label: "Shortcut",
    reply_label: "Reply",
    save: "Save",
    attach_files: "Attach files",
    uploading: "Uploading",
    cancel_upload: "Cancel",
    remove_upload: "Remove",
    upload_broken: "The connection broke before the file was up. Try again.",
    download: "Download",
    open_image: "Open the full image:",
    close: "Close",
    drop_files: "Drop files here to send them",
    file_unavailable: "That file could not be fetched. Please try again.",
    search_label: "Search conversations",
    search_placeholder: "Words, a name or #number",
    search_button: "Search",
    search_results_for: "Results for “{query}”",
    search_close: "Close search",
    search_customers: "Customers",
    search_messages: "Messages",
    search_nothing: "Nothing found.",
    search_more: "More results",
    searching: "Searching…",
    found_by_name: "name",
    found_by_user_id: "user id",
    found_by_number: "conversation",
    transcript_title: "Conversation #{number} with {customer}",
    transcript_made: "Downloaded {when} (times in {zone}). Status: {status}.",
    transcript_file: "File: ",
    transcript_download: "Download the conversation",
    transcript_as_text: "as text",
    transcript_as_html: "as a web page",
    more_conversations: "More conversations",
    transcript_cut: "The conversation goes on; this file holds its first {count} messages.",
    report_day: "Day",
    report_agent: "Agent",
    report_conversations: "Conversations",
    report_resolved: "Resolved",
    report_customer_messages: "Customer messages",
    report_agent_messages: "Agent messages",
    report_messages: "Messages",
    report_first_response_median: "First response, median (s)",
    report_first_response_p90: "First response, 90th percentile (s)",
    report_resolution_median: "Resolution, median (s)",
    report_resolution_p90: "Resolution, 90th percentile (s)",
    report_ratings: "Ratings",
    report_rating_average: "Average rating",
    report_satisfied: "Satisfied (%)",
    reports_heading: "Reports",
    report_from: "From",
    report_to: "To",
    report_show: "Show",
    report_counting: "Counting…",
    report_chart_title: "Conversations per day",
    report_chart_summary: "{total} conversations in {days} days, at most {max} on {day}.",
    report_days_table: "The days as a table",
    report_first_response: "First response",
    report_resolution: "Resolution",
    report_queue_wait: "Waiting in the queue",
    report_median_p90: "{median} median, {p90} for 90%",
    report_none: "none yet",
    report_ratings_summary: "{count} ratings, {average} on average, {satisfied}% satisfied",
    report_download_days: "Download the days (CSV)",
    report_download_agents: "Download the agents (CSV)",
    report_seconds: "{n} s",
    report_minutes: "{n} min",
    report_hours: "{n} h",
    profile_heading: "About the customer",
    profile_email: "E-mail",
    profile_user_id: "User id on your site",
    profile_page: "Page",
    profile_language: "Language",
    profile_time_zone: "Time zone",
    profile_first_seen: "First seen",
    profile_note: "Note on this customer (agents only)",
    profile_note_by: "Last changed by {name}, {when}",
    profile_save: "Save",
    profile_saved: "Saved.",
    profile_others: "Other conversations with this e-mail",
    profile_not_given: "not given",
    profile_loading: "Loading…",
    profile_attributes: "From your site",
    profile_others_hint: "The address is what a customer typed: it may not be the same person.",
    rate_heading: "Your conversation was marked resolved. How did we do?",
    rate_1: "Very poor",
    rate_2: "Poor",
    rate_3: "OK",
    rate_4: "Good",
    rate_5: "Excellent",
    rate_comment: "Anything to add? (optional)",
    rate_send: "Send rating",
    rate_thanks: "Thank you for your rating!",
    rating_line: "Rating from the customer:",
    rating_of: "{score} of 5",
    csat_setting: "Ask customers to rate resolved conversations",
    integrations_heading: "Integrations",
    integrations_intro: "Programs reach the desk through the REST API (described at /api/v1/openapi.json) with a token, and hear of what happens through webhooks.",
    tokens_heading: "API tokens",
    tokens_none: "No tokens yet.",
    token_name: "What it is for",
    token_write: "May send, resolve, transfer and change customers",
    token_make: "Make token",
    token_made: "Copy this token now: it is shown only once.",
    token_read_only: "read only",
    token_read_write: "read and write",
    token_last_used: "last used {when}",
    token_never_used: "never used",
    token_revoke: "Revoke",
    webhooks_heading: "Webhooks",
    webhooks_none: "No webhooks yet.",
    webhook_url: "Address (https://…)",
    webhook_events: "Events",
    webhook_add: "Add webhook",
    webhook_secret_made: "Copy this signing secret now: it is shown only once.",
    webhook_remove: "Remove",
    webhook_deliveries: "Latest deliveries",
    webhook_no_deliveries: "Nothing sent yet.",
    delivery_delivered: "delivered",
    delivery_retrying: "failed; next try at {when}",
    delivery_given_up: "given up",
    delivery_attempts: "attempts: {n}",
    delivery_pending: "waiting to be sent",
    event_conversation_created: "Conversation started",
    event_message_created: "Message",
    event_conversation_resolved: "Conversation resolved",
    event_rating_given: "Rating given",
};

pub const ZH_CN: Ui = Ui {
    title: "在线客服",
    language_label: "语言",
    closed_notice: "我们现在不在工作时间。工作时间：",
    closed_leave_message: "请留言，我们上班后会回复您。",
    email_label: "电子邮箱（可选）",
    question_label: "您的问题（可选）",
    login_heading: "与我们的客服团队聊天",
    setup_heading: "创建第一位管理员",
    setup_intro: "目前还没有任何账号。您在这里创建的账号是管理员：可以查看所有对话，并添加团队其他成员。此链接只能使用一次。",
    setup_name_label: "您的名字（顾客将看到它）",
    setup_password_label: "密码（至少 8 个字符）",
    setup_again_label: "再次输入密码",
    setup_button: "创建管理员并登录",
    setup_busy: "正在创建…",
    passwords_differ: "两次输入的密码不一致。",
    name_label: "您的名字",
    agent_switch: "我是客服",
    password_label: "密码",
    login_button: "开始聊天",
    logging_in: "正在登录…",
    you_suffix: "（你）",
    agent_badge: "客服",
    no_agents_online: "目前没有客服在线。您仍可以留言：第一位上线的客服会看到。",
    message_placeholder: "输入消息…",
    send_button: "发送",
    no_messages: "还没有消息。",
    dismiss: "关闭",
    logged_in_as: "当前登录：",
    log_out: "退出登录",
    conn_connecting: "正在连接…",
    conn_online: "已连接",
    conn_offline: "已断开",
    conn_retry_in: "重新连接倒计时",
    offline_send_hint: "您已离线。现在写的消息会在连接恢复后立即发送。",
    you: "你",
    conversations_heading: "会话",
    support_team: "客服团队",
    online_now: "当前在线",
    more_online: "位客服也在线",
    answers_within_a_minute: "通常在一分钟内回复",
    answers_in_minutes: "通常在几分钟内回复",
    answers_within_an_hour: "通常在一小时内回复",
    answers_within_hours: "通常在几小时内回复",
    answers_within_a_day: "通常在一天内回复",
    pick_conversation: "请选择一个会话",
    offline_badge: "离线",
    load_older: "加载更早的消息",
    pending: "发送中…",
    not_sent: "未发送：",
    retry: "重试",
    mine_heading: "我的",
    queue_heading: "等待中",
    others_heading: "其他",
    take: "接入",
    resolve: "结束",
    transfer: "转接",
    transfer_to: "客服",
    transfer_note: "给下一位客服的备注",
    note_from_transfer: "备注：",
    status_queued: "等待中",
    status_open: "处理中",
    status_resolved: "已结束",
    status_new: "新会话",
    offline_action: "您已离线；请在连接恢复后重试。",
    cannot_reach_server: "无法连接服务器。请检查网络后重试。",
    new_message_from: "新消息来自",
    is_typing: "正在输入…",
    internal_note: "内部备注",
    read_receipt: "已读",
    today: "今天",
    yesterday: "昨天",
    composer_hint: "按 Enter 发送，Shift+Enter 换行（触屏上 Enter 换行，点“发送”按钮发送）。",
    away_badge: "离开",
    busy_badge: "忙碌",
    online_badge: "在线",
    my_status_label: "我的状态",
    agent_online: "在线",
    agent_away: "离开",
    agent_busy: "忙碌（不从队列分配会话）",
    admin_badge: "管理员",
    team_heading: "团队",
    add_agent: "添加客服",
    admin_label: "管理员（可查看所有会话并管理团队）",
    remove: "移除",
    remove_agent_confirm: "将 {name} 移出团队？其创建的 API 令牌和 Webhook 也会一并删除。",
    canned_heading: "快捷回复",
    shortcut_label: "快捷键",
    reply_label: "回复内容",
    save: "保存",
    attach_files: "添加文件",
    uploading: "正在上传",
    cancel_upload: "取消",
    remove_upload: "移除",
    upload_broken: "文件上传完成前连接中断了，请重试。",
    download: "下载",
    open_image: "查看原图：",
    close: "关闭",
    drop_files: "将文件拖放到这里即可发送",
    file_unavailable: "无法获取这个文件，请重试。",
    search_label: "搜索会话",
    search_placeholder: "关键词、姓名或 #编号",
    search_button: "搜索",
    search_results_for: "“{query}”的搜索结果",
    search_close: "关闭搜索",
    search_customers: "客户",
    search_messages: "消息",
    search_nothing: "没有找到结果。",
    search_more: "更多结果",
    searching: "正在搜索…",
    found_by_name: "姓名",
    found_by_user_id: "用户 ID",
    found_by_number: "会话编号",
    transcript_title: "与 {customer} 的会话 #{number}",
    transcript_made: "下载于 {when}（时间为 {zone}）。状态：{status}。",
    transcript_file: "文件：",
    transcript_download: "下载对话记录",
    transcript_as_text: "文本格式",
    transcript_as_html: "网页格式",
    more_conversations: "更多会话",
    transcript_cut: "对话仍在继续；此文件只包含前 {count} 条消息。",
    report_day: "日期",
    report_agent: "客服",
    report_conversations: "对话",
    report_resolved: "已解决",
    report_customer_messages: "顾客消息",
    report_agent_messages: "客服消息",
    report_messages: "消息",
    report_first_response_median: "首次回复中位数（秒）",
    report_first_response_p90: "首次回复第 90 百分位（秒）",
    report_resolution_median: "解决时间中位数（秒）",
    report_resolution_p90: "解决时间第 90 百分位（秒）",
    report_ratings: "评价数",
    report_rating_average: "平均评分",
    report_satisfied: "满意率（%）",
    reports_heading: "报表",
    report_from: "从",
    report_to: "到",
    report_show: "查看",
    report_counting: "统计中…",
    report_chart_title: "每日对话数",
    report_chart_summary: "{days} 天内共 {total} 个对话，{day} 最多，为 {max} 个。",
    report_days_table: "按日表格",
    report_first_response: "首次回复",
    report_resolution: "解决时间",
    report_queue_wait: "排队等待",
    report_median_p90: "中位数 {median}，90% 在 {p90} 内",
    report_none: "暂无",
    report_ratings_summary: "{count} 个评价，平均 {average} 分，满意率 {satisfied}%",
    report_download_days: "下载按日数据（CSV）",
    report_download_agents: "下载客服数据（CSV）",
    report_seconds: "{n} 秒",
    report_minutes: "{n} 分钟",
    report_hours: "{n} 小时",
    profile_heading: "顾客资料",
    profile_email: "电子邮箱",
    profile_user_id: "网站用户 ID",
    profile_page: "所在页面",
    profile_language: "语言",
    profile_time_zone: "时区",
    profile_first_seen: "首次访问",
    profile_note: "顾客备注（仅客服可见）",
    profile_note_by: "最后由 {name} 修改于 {when}",
    profile_save: "保存",
    profile_saved: "已保存。",
    profile_others: "使用此邮箱的其他会话",
    profile_not_given: "未提供",
    profile_loading: "加载中…",
    profile_attributes: "来自您的网站",
    profile_others_hint: "邮箱由顾客自行填写，未经验证，可能并非同一人。",
    rate_heading: "您的对话已标记为已解决。您对这次服务满意吗？",
    rate_1: "非常不满意",
    rate_2: "不满意",
    rate_3: "一般",
    rate_4: "满意",
    rate_5: "非常满意",
    rate_comment: "还有什么想说的吗？（可选）",
    rate_send: "提交评价",
    rate_thanks: "感谢您的评价！",
    rating_line: "顾客评价：",
    rating_of: "{score} 分（满分 5 分）",
    csat_setting: "请顾客评价已解决的对话",
    integrations_heading: "集成",
    integrations_intro: "其他程序可凭令牌通过 REST API（说明见 /api/v1/openapi.json）访问客服台，并通过 Webhook 获知发生的事件。",
    tokens_heading: "API 令牌",
    tokens_none: "暂无令牌。",
    token_name: "用途",
    token_write: "可发送消息、解决、转接和修改顾客信息",
    token_make: "创建令牌",
    token_made: "请立即复制此令牌：它只显示这一次。",
    token_read_only: "只读",
    token_read_write: "读写",
    token_last_used: "上次使用：{when}",
    token_never_used: "从未使用",
    token_revoke: "撤销",
    webhooks_heading: "Webhook",
    webhooks_none: "暂无 Webhook。",
    webhook_url: "地址（https://…）",
    webhook_events: "事件",
    webhook_add: "添加 Webhook",
    webhook_secret_made: "请立即复制此签名密钥：它只显示这一次。",
    webhook_remove: "删除",
    webhook_deliveries: "最近投递",
    webhook_no_deliveries: "尚未发送。",
    delivery_delivered: "已送达",
    delivery_retrying: "失败，下次尝试：{when}",
    delivery_given_up: "已放弃",
    delivery_attempts: "尝试次数：{n}",
    delivery_pending: "等待发送",
    event_conversation_created: "对话开始",
    event_message_created: "新消息",
    event_conversation_resolved: "对话已解决",
    event_rating_given: "收到评价",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_language_picks_chinese_or_english() {
        assert_eq!(Lang::preferred("zh-CN,zh;q=0.9,en;q=0.8"), Lang::ZhCn);
        assert_eq!(Lang::preferred("zh-TW"), Lang::ZhCn);
        assert_eq!(Lang::preferred("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(
            Lang::preferred("fr-FR,fr;q=0.9,zh;q=0.5,en;q=0.4"),
            Lang::ZhCn,
            "the first we speak"
        );
        assert_eq!(Lang::preferred("en;q=0.2, zh-Hans;q=0.7"), Lang::ZhCn, "by weight, not order");
        assert_eq!(Lang::preferred("de, fr"), Lang::En, "English when none is ours");
        assert_eq!(Lang::preferred(""), Lang::En);
        assert_eq!(Lang::preferred("zh;q=0, en"), Lang::En, "q=0 means not this one");
    }

    #[test]
    fn the_reply_time_is_said_in_words_a_customer_can_plan_with() {
        let min = 60_000;
        let said = |ms| (EN.usually_answers(ms), ZH_CN.usually_answers(ms));
        assert_eq!(said(40_000), (EN.answers_within_a_minute, ZH_CN.answers_within_a_minute));
        assert_eq!(said(4 * min).0, "Usually answers in a few minutes");
        assert_eq!(said(4 * min).1, "通常在几分钟内回复");
        assert_eq!(said(10 * min).0, EN.answers_in_minutes);
        assert_eq!(said(10 * min + 1).0, EN.answers_within_an_hour);
        assert_eq!(said(3 * 60 * min).0, EN.answers_within_hours);
        assert_eq!(said(30 * 60 * min).0, EN.answers_within_a_day);
    }

    #[test]
    fn both_languages_label_everything() {
        // A label left empty, or left in English, would show as such.
        for (en, zh) in EN.all().into_iter().zip(ZH_CN.all()) {
            assert!(!zh.is_empty() && zh != en, "{en:?} → {zh:?}");
        }
    }
}
