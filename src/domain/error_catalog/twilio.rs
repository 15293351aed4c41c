//! Twilio: `ErrorCode` of a status callback (digits, e.g. `30003`) and the
//! `MessageStatus` words.

use super::Finality::{Final, Maybe, NotFinal};
use super::*;

pub(super) static CATALOG: ProviderCatalog = ProviderCatalog {
    errors: ERRORS,
    statuses: STATUSES,
};

const TOLL_FREE_REJECTED: &str = "Do not resend yet. Escalate to the messaging team: the \
     toll-free number's verification must be fixed and resubmitted.";

const ERRORS: &[ErrorNote] = &[
    ErrorNote {
        code: "30001",
        official_name: "Queue overflow",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Too many messages were waiting to go out from our number, and this one \
                  waited too long and was dropped before reaching the carrier.",
        next_step: "Resend once. If it keeps happening, escalate to the messaging team: we \
                    are sending faster than the number allows.",
    },
    ErrorNote {
        code: "30002",
        official_name: "Account suspended",
        finality: Final,
        category: "account/config",
        meaning: "Our messaging account with the provider is suspended, so the message was \
                  not sent. Nothing is wrong with the user's phone.",
        next_step: ACCOUNT_SUSPENDED,
    },
    ErrorNote {
        code: "30003",
        official_name: "Unreachable destination handset",
        finality: Maybe,
        category: "handset/unreachable",
        meaning: "The carrier could not reach the phone. It may be switched off, out of \
                  signal, or unable to take messages right now.",
        next_step: RESEND_IF_PHONE_OK,
    },
    ErrorNote {
        code: "30004",
        official_name: "Message blocked",
        finality: Final,
        category: "recipient opt-out/block",
        meaning: "The message was blocked on the way to the phone. The user may have \
                  blocked our number or opted out with their carrier; the carrier did not \
                  say which.",
        next_step: "Do not resend yet. Ask the user whether they blocked our number or \
                    texted STOP; if not, escalate to the messaging team.",
    },
    ErrorNote {
        code: "30005",
        official_name: "Unknown destination handset",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The carrier says this number does not exist or is no longer in service.",
        next_step: CORRECT_THE_NUMBER,
    },
    ErrorNote {
        code: "30006",
        official_name: "Landline or unreachable carrier",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number is a landline, or its carrier cannot receive text messages \
                  from us.",
        next_step: ASK_FOR_MOBILE,
    },
    ErrorNote {
        code: "30007",
        official_name: "Message filtered",
        finality: Final,
        category: "carrier filtering/spam",
        meaning: "The carrier's filter stopped the message, usually because it looked like \
                  spam to the carrier.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30008",
        official_name: "Unknown error",
        finality: Maybe,
        category: "unknown",
        meaning: "The message was not delivered and the carrier did not say why.",
        next_step: NO_REASON_GIVEN,
    },
    ErrorNote {
        code: "30009",
        official_name: "Missing inbound segment",
        finality: Final,
        category: "network/provider fault",
        meaning: "A long message travels in several parts, and at least one part went \
                  missing, so the whole message could not be put together.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "30010",
        official_name: "Message price exceeds max price",
        finality: Final,
        category: "account/config",
        meaning: "Sending this message would have cost more than the price limit set on \
                  our account, so it was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30011",
        official_name: "MMS not supported by the receiving phone number in this region",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number cannot receive picture or media messages in its region. Plain \
                  text may still work.",
        next_step: "Do not resend as a media message. Escalate to the messaging team if a \
                    text-only version is needed.",
    },
    ErrorNote {
        code: "30017",
        official_name: "Carrier network congestion",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The carrier's network was too busy to take the message. This is usually \
                  temporary.",
        next_step: RESEND_AFTER_NETWORK_FAULT,
    },
    ErrorNote {
        code: "30018",
        official_name: "Destination carrier requires sender ID pre-registration",
        finality: Maybe,
        category: "sender registration/compliance",
        meaning: "The user's carrier only accepts messages from sender names registered \
                  with it in advance, and ours is not registered there.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30019",
        official_name: "Content size exceeds carrier limit",
        finality: Final,
        category: "content",
        meaning: "The message, or its attachment, was larger than the carrier accepts.",
        next_step: SHORTEN_THE_MESSAGE,
    },
    ErrorNote {
        code: "30020",
        official_name: "Internal Failure with Message Scheduling",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The provider had a fault while handling a scheduled message. The user's \
                  phone and carrier were not involved.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "30021",
        official_name: "Internal Failure with messaging service orchestrator",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The provider had a fault while choosing how to send the message. The \
                  user's phone and carrier were not involved.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "30022",
        official_name: "US A2P 10DLC - Rate Limits Exceeded",
        finality: Maybe,
        category: "rate/queue",
        meaning: "We sent messages faster than US carriers allow for our registered \
                  sender, so this one was refused.",
        next_step: RESEND_SOON,
    },
    ErrorNote {
        code: "30023",
        official_name: "US A2P 10DLC - Daily Message Cap Reached",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Our US sender reached the daily number of messages carriers allow it, so \
                  this one was refused.",
        next_step: "Resend after the daily limit resets. Escalate to the messaging team if \
                    the user cannot wait.",
    },
    ErrorNote {
        code: "30024",
        official_name: "Numeric Sender ID Not Provisioned on Carrier",
        finality: Maybe,
        category: "sender registration/compliance",
        meaning: "The user's carrier does not recognize the number we send from, so it \
                  refused the message.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30025",
        official_name: "US A2P 10DLC - 50% T-Mobile Daily Message Limit Consumed",
        finality: NotFinal,
        category: "rate/queue",
        meaning: "A warning only: our US sender has used half of its daily allowance for \
                  T-Mobile numbers. This message can still go through.",
        next_step: "Nothing to do for the user; wait for the next status. Tell the \
                    messaging team if it shows up often.",
    },
    ErrorNote {
        code: "30026",
        official_name: "US A2P 10DLC - 70% T-Mobile Daily Message Limit Consumed",
        finality: NotFinal,
        category: "rate/queue",
        meaning: "A warning only: our US sender has used 70% of its daily allowance for \
                  T-Mobile numbers. This message can still go through.",
        next_step: "Nothing to do for the user; wait for the next status. Tell the \
                    messaging team, as the limit may be hit later today.",
    },
    ErrorNote {
        code: "30027",
        official_name: "US A2P 10DLC - T-Mobile Daily Message Limit Reached",
        finality: Maybe,
        category: "rate/queue",
        meaning: "Our US sender used up its daily allowance for T-Mobile numbers, so \
                  messages to T-Mobile users are refused until it resets.",
        next_step: "Resend after the daily limit resets. Escalate to the messaging team if \
                    the user cannot wait.",
    },
    ErrorNote {
        code: "30032",
        official_name: "Toll-Free Number Has Not Been Verified",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "We sent from a toll-free number that has not been verified, and carriers \
                  block messages from unverified toll-free numbers.",
        next_step: "Do not resend yet. Escalate to the messaging team: the toll-free number \
                    needs verification.",
    },
    ErrorNote {
        code: "30033",
        official_name: "US A2P 10DLC - Campaign Suspended",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The US registration our sending number relies on is suspended, so \
                  carriers block its messages.",
        next_step: "Do not resend. Escalate to the messaging team: our US registration \
                    needs attention.",
    },
    ErrorNote {
        code: "30034",
        official_name: "US A2P 10DLC - Message from an Unregistered Number",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Our sending number is not registered for business texting in the US, so \
                  carriers block its messages.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30035",
        official_name: "US A2P 10DLC - Message from a number still being configured",
        finality: Maybe,
        category: "sender registration/compliance",
        meaning: "Our sending number's US registration is still being set up, so carriers \
                  are not taking its messages yet.",
        next_step: "Resend once the messaging team confirms the number is ready. Escalate \
                    if it lasts more than a day.",
    },
    ErrorNote {
        code: "30036",
        official_name: "Validity Period Expired",
        finality: Maybe,
        category: "rate/queue",
        meaning: "The message waited longer than the time limit set for it, so it was \
                  dropped instead of being sent late.",
        next_step: "Resend once if the message is still useful. If it keeps happening, \
                    escalate to the messaging team.",
    },
    ErrorNote {
        code: "30037",
        official_name: "Outbound Messaging Disabled",
        finality: Final,
        category: "account/config",
        meaning: "Sending messages is switched off for our account, so the message was not \
                  sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30038",
        official_name: "OTP Message Body Filtered",
        finality: Final,
        category: "content",
        meaning: "The message contained a one-time code in a form that is not allowed from \
                  this sender, so it was blocked.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30039",
        official_name: "Filtered to Prevent Message Loops",
        finality: Final,
        category: "content",
        meaning: "The message was stopped because it looked like two automatic systems \
                  texting each other in a loop.",
        next_step: MESSAGE_LOOP,
    },
    ErrorNote {
        code: "30040",
        official_name: "Destination carrier requires Sender ID pre-registration",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The user's carrier only accepts messages from sender names registered \
                  with it in advance, and ours is not registered there.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30041",
        official_name: "Message from an unregistered number sent to a United Kingdom number",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The message went to a UK number from a sender that is not registered for \
                  the UK, so it was blocked.",
        next_step: ESCALATE_REGISTRATION,
    },
    ErrorNote {
        code: "30042",
        official_name: "The Sender ID is blocked as generic or it contains special characters",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The sender name we used was refused because it is too generic or contains \
                  characters that are not allowed.",
        next_step: "Do not resend. Escalate to the messaging team: the sender name must \
                    change.",
    },
    ErrorNote {
        code: "30043",
        official_name: "International SMS via Domestic Gateway",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "The message to this number went through a route meant for messages within \
                  one country only, so it was refused.",
        next_step: "Do not resend. Escalate to the messaging team: the sending route for \
                    this country needs changing.",
    },
    ErrorNote {
        code: "30044",
        official_name: "Trial Message Length Exceeded",
        finality: Final,
        category: "account/config",
        meaning: "Our account is a trial account, and the message was longer than trial \
                  accounts may send.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30046",
        official_name: "Message delivery not confirmed [unconfirmed]",
        finality: Maybe,
        category: "unknown",
        meaning: "No delivery confirmation came back for this message, so it may or may not \
                  have arrived; the carrier did not say why.",
        next_step: ASK_WHETHER_IT_ARRIVED,
    },
    ErrorNote {
        code: "30110",
        official_name: "Domain is blocked",
        finality: Final,
        category: "content",
        meaning: "The message contained a web link to a site that is blocked, so the \
                  message was stopped.",
        next_step: "Do not resend with the same link. Escalate to the messaging team with \
                    the message id.",
    },
    ErrorNote {
        code: "30410",
        official_name: "Provider Timeout Error",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The carrier took too long to answer, so it is not known whether it took \
                  the message.",
        next_step: "Wait a few minutes for a later status. If none comes, resend once.",
    },
    ErrorNote {
        code: "30450",
        official_name: "Message delivery blocked",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The message was blocked before delivery, usually by a spam or fraud \
                  filter; the exact reason was not given.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30453",
        official_name: "Message couldn't be delivered",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The message was not delivered, most likely because a filter on the way \
                  stopped it; the carrier did not say why.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30454",
        official_name: "Account exceeded the messages limit",
        finality: Maybe,
        category: "account/config",
        meaning: "Our account reached its limit on how many messages it may send, so this \
                  one was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "30485",
        official_name: "Message couldn't be delivered",
        finality: Maybe,
        category: "carrier filtering/spam",
        meaning: "The message was not delivered, most likely because a filter on the way \
                  stopped it; the carrier did not say why.",
        next_step: ESCALATE_FILTERING,
    },
    ErrorNote {
        code: "30500",
        official_name: "Twilio Internal Error",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The SMS provider had an internal fault while handling the message. The \
                  user's phone and carrier were not involved.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "21211",
        official_name: "Invalid 'To' Phone Number",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number the message was addressed to is not a valid phone number.",
        next_step: CORRECT_THE_NUMBER,
    },
    ErrorNote {
        code: "21408",
        official_name: "Permission to send an SMS or MMS has not been enabled for the region \
                        indicated by the 'To' number",
        finality: Final,
        category: "account/config",
        meaning: "Our account is not allowed to send messages to the country of this \
                  number, so the message was not sent.",
        next_step: COUNTRY_NOT_ENABLED,
    },
    ErrorNote {
        code: "21606",
        official_name: "The 'From' phone number provided is not a valid message-capable \
                        Twilio phone number for this destination/account",
        finality: Final,
        category: "account/config",
        meaning: "The number we tried to send from cannot send messages to this \
                  destination, so the message was not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "21610",
        official_name: "Attempt to send to unsubscribed recipient",
        finality: Final,
        category: "recipient opt-out/block",
        meaning: "This number has opted out of messages from our number (for example by \
                  replying STOP), so the message was not sent.",
        next_step: OPT_BACK_IN,
    },
    ErrorNote {
        code: "21611",
        official_name: "This 'From' number has exceeded the maximum number of queued messages",
        finality: Final,
        category: "rate/queue",
        meaning: "Too many messages were already waiting to go out from our number, so this \
                  one was refused.",
        next_step: RESEND_SOON,
    },
    ErrorNote {
        code: "21612",
        official_name: "Message cannot be sent with the current combination of 'To' and/or \
                        'From' parameters",
        finality: Final,
        category: "account/config",
        meaning: "Messages cannot go from the number we send from to this number, so it was \
                  not sent.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "21614",
        official_name: "'To' number is not a valid mobile number",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number is not a mobile number, so it cannot receive text messages.",
        next_step: ASK_FOR_MOBILE,
    },
    ErrorNote {
        code: "21635",
        official_name: "'To' number cannot be a landline",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The number is a landline, so it cannot receive text messages.",
        next_step: ASK_FOR_MOBILE,
    },
    ErrorNote {
        code: "30445",
        official_name: "Toll Free verification rejection - Could not validate business \
                        information",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Verification of our toll-free sending number was turned down because our \
                  business details could not be confirmed, so carriers block its messages.",
        next_step: TOLL_FREE_REJECTED,
    },
    ErrorNote {
        code: "30446",
        official_name: "Toll Free verification rejection - Opt-in not sufficient: express \
                        consent required",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Verification of our toll-free sending number was turned down because the \
                  way users agree to get our messages was not explicit enough.",
        next_step: TOLL_FREE_REJECTED,
    },
    ErrorNote {
        code: "30476",
        official_name: "Toll Free verification rejection - Opt-in not provided",
        finality: Final,
        category: "sender registration/compliance",
        meaning: "Verification of our toll-free sending number was turned down because we \
                  did not show how users agree to get our messages.",
        next_step: TOLL_FREE_REJECTED,
    },
];

/// `MessageStatus` words of a status callback.
const STATUSES: &[ErrorNote] = &[
    ErrorNote {
        code: "accepted",
        official_name: "accepted",
        finality: NotFinal,
        category: "status",
        meaning: "Twilio has taken our request and is choosing how to send it. Nothing has \
                  gone to the carrier yet.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "scheduled",
        official_name: "scheduled",
        finality: NotFinal,
        category: "status",
        meaning: "The message is scheduled to go out later; it has not been sent yet.",
        next_step: "Wait until the scheduled time. If the user needs it now, escalate to the \
                    messaging team.",
    },
    ErrorNote {
        code: "queued",
        official_name: "queued",
        finality: NotFinal,
        category: "status",
        meaning: "Twilio has the message waiting in line to go out from our number. Nothing \
                  has gone to the carrier yet.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "sending",
        official_name: "sending",
        finality: NotFinal,
        category: "status",
        meaning: "Twilio is handing the message to the mobile carrier right now.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "sent",
        official_name: "sent",
        finality: Maybe,
        category: "status",
        meaning: SENT_MAYBE_LAST,
        next_step: WAIT_THEN_ASK,
    },
    ErrorNote {
        code: "delivered",
        official_name: "delivered",
        finality: Final,
        category: "status",
        meaning: DELIVERED_MEANING,
        next_step: DELIVERED_NEXT_STEP,
    },
    ErrorNote {
        code: "undelivered",
        official_name: "undelivered",
        finality: Final,
        category: "status",
        meaning: UNDELIVERED_MEANING,
        next_step: FOLLOW_THE_ERROR_CODE,
    },
    ErrorNote {
        code: "failed",
        official_name: "failed",
        finality: Final,
        category: "status",
        meaning: "Twilio could not send the message, so it never reached the carrier. The \
                  error code, when there is one, may say why.",
        next_step: FOLLOW_THE_ERROR_CODE,
    },
    ErrorNote {
        code: "canceled",
        official_name: "canceled",
        finality: Final,
        category: "status",
        meaning: "The message was canceled before it was sent, so it never went out.",
        next_step: "Resend if the user still needs the message.",
    },
    ErrorNote {
        code: "read",
        official_name: "read",
        finality: Final,
        category: "status",
        meaning: "A chat app such as WhatsApp told Twilio the message was opened on the \
                  device; text messages never carry such a report. We count it as delivered.",
        next_step: DELIVERED_NEXT_STEP,
    },
];
