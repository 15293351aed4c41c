//! SMPP, as SMS gateways pass it on: the `command_status` with which a
//! carrier's message centre (SMSC) answered a submit (`0x0000000B`, or its
//! name `ESME_RINVDSTADR`), and the `stat:` word of a delivery receipt text
//! (`DELIVRD`). Both are recognized for every provider; see the module docs
//! of `error_catalog` for why the receipt's `err:` field is not.

use super::Finality::{Final, Maybe, NotFinal};
use super::*;

/// The note for a `command_status` given as hex (`0x0000000B`, `0xb`) or by
/// name (`ESME_RINVDSTADR`, any letter case).
pub(super) fn command_status(key: &str) -> Option<&'static ErrorNote> {
    if let Some(hex) = key.strip_prefix("0x").or_else(|| key.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let value = u32::from_str_radix(hex, 16).ok()?;
        let canonical = format!("0x{value:08X}");
        return COMMAND_STATUS.iter().find(|note| note.code == canonical);
    }
    let is_name = key
        .get(..5)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("ESME_"));
    if !is_name || key.len() == 5 {
        return None;
    }
    COMMAND_STATUS.iter().find(|note| {
        note.official_name
            .split(':')
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(key))
    })
}

/// The note for a delivery receipt's `stat:` word: upper case as the
/// specification writes it (`DELIVRD`), or any case behind an explicit
/// `stat:` prefix.
pub(super) fn receipt_stat(word: &str) -> Option<&'static ErrorNote> {
    let prefixed = word
        .get(..5)
        .filter(|prefix| prefix.eq_ignore_ascii_case("stat:"))
        .map(|_| word[5..].trim());
    RECEIPT_STAT.iter().find(|note| match prefixed {
        Some(word) => note.code.eq_ignore_ascii_case(word),
        None => note.code == word,
    })
}

/// What to do when the fault is in our own gateway's link to the carrier.
const GATEWAY_SETTINGS: &str = "Do not resend yet. Escalate to the messaging team: our SMS \
     gateway's connection to the carrier needs attention.";
const GATEWAY_RETRY: &str = "Resend once. If it fails again, escalate to the messaging team: \
     our SMS gateway's connection to the carrier may need attention.";

pub(super) static COMMAND_STATUS: &[ErrorNote] = &[
    ErrorNote {
        code: "0x00000000",
        official_name: "ESME_ROK: No Error",
        finality: NotFinal,
        category: "status",
        meaning: "No error: the carrier's message centre took the message. This is not yet a \
                  delivery report.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "0x00000001",
        official_name: "ESME_RINVMSGLEN: Message Length is invalid",
        finality: Final,
        category: "content",
        meaning: "The carrier's message centre refused the message because its length was not \
                  valid, usually too long.",
        next_step: SHORTEN_THE_MESSAGE,
    },
    ErrorNote {
        code: "0x00000002",
        official_name: "ESME_RINVCMDLEN: Command Length is invalid",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused our gateway's request as malformed. \
                  Nothing is wrong with the user's phone.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x00000003",
        official_name: "ESME_RINVCMDID: Invalid Command ID",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused our gateway's request as one it does \
                  not support. Nothing is wrong with the user's phone.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x00000004",
        official_name: "ESME_RINVBNDSTS: Incorrect BIND Status for given command",
        finality: Maybe,
        category: "account/config",
        meaning: "Our gateway's connection to the carrier's message centre was not in a state \
                  to send messages, so this one was refused.",
        next_step: GATEWAY_RETRY,
    },
    ErrorNote {
        code: "0x00000005",
        official_name: "ESME_RALYBND: ESME Already in Bound State",
        finality: Maybe,
        category: "account/config",
        meaning: "Our gateway tried to log in to the carrier's message centre while already \
                  logged in; the message may not have been sent.",
        next_step: GATEWAY_RETRY,
    },
    ErrorNote {
        code: "0x00000008",
        official_name: "ESME_RSYSERR: System Error",
        finality: Maybe,
        category: "network/provider fault",
        meaning: "The carrier's message centre had an internal fault while handling the \
                  message. The user's phone was not involved.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "0x0000000A",
        official_name: "ESME_RINVSRCADR: Invalid Source Address",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused the number or name we send from.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "0x0000000B",
        official_name: "ESME_RINVDSTADR: Invalid Dest Addr",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The carrier's message centre refused the number the message was addressed \
                  to as not valid.",
        next_step: CORRECT_THE_NUMBER,
    },
    ErrorNote {
        code: "0x0000000C",
        official_name: "ESME_RINVMSGID: Message ID is invalid",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre did not recognize the message id our gateway \
                  gave it. Nothing is wrong with the user's phone.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x0000000D",
        official_name: "ESME_RBINDFAIL: Bind Failed",
        finality: Maybe,
        category: "account/config",
        meaning: "Our gateway could not log in to the carrier's message centre, so the \
                  message was not sent.",
        next_step: GATEWAY_RETRY,
    },
    ErrorNote {
        code: "0x0000000E",
        official_name: "ESME_RINVPASWD: Invalid Password",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused our gateway's password, so no message \
                  can be sent until it is fixed.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x0000000F",
        official_name: "ESME_RINVSYSID: Invalid System ID",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused our gateway's login name, so no \
                  message can be sent until it is fixed.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x00000014",
        official_name: "ESME_RMSGQFUL: Message Queue Full",
        finality: Maybe,
        category: "rate/queue",
        meaning: "The carrier's message centre had too many messages waiting, so it refused \
                  this one.",
        next_step: RESEND_SOON,
    },
    ErrorNote {
        code: "0x00000015",
        official_name: "ESME_RINVSERTYP: Invalid Service Type",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused a setting our gateway sent with the \
                  message. Nothing is wrong with the user's phone.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x00000045",
        official_name: "ESME_RSUBMITFAIL: submit_sm or submit_multi failed",
        finality: Maybe,
        category: "unknown",
        meaning: "The carrier's message centre could not take the message; it did not say \
                  why.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "0x00000048",
        official_name: "ESME_RINVSRCTON: Invalid Source address TON",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused the type given for the number or name \
                  we send from.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "0x00000049",
        official_name: "ESME_RINVSRCNPI: Invalid Source address NPI",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused the numbering plan given for the \
                  number or name we send from.",
        next_step: ESCALATE_ACCOUNT,
    },
    ErrorNote {
        code: "0x00000050",
        official_name: "ESME_RINVDSTTON: Invalid Destination address TON",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The carrier's message centre refused the type given for the number the \
                  message was addressed to.",
        next_step: DESTINATION_FORMAT,
    },
    ErrorNote {
        code: "0x00000051",
        official_name: "ESME_RINVDSTNPI: Invalid Destination address NPI",
        finality: Final,
        category: "number invalid/not capable",
        meaning: "The carrier's message centre refused the numbering plan given for the \
                  number the message was addressed to.",
        next_step: DESTINATION_FORMAT,
    },
    ErrorNote {
        code: "0x00000058",
        official_name: "ESME_RTHROTTLED: Throttling error (ESME has exceeded allowed \
                        message limits)",
        finality: Maybe,
        category: "rate/queue",
        meaning: "We sent messages faster than the carrier's message centre allows, so this \
                  one was refused.",
        next_step: RESEND_SOON,
    },
    ErrorNote {
        code: "0x00000061",
        official_name: "ESME_RINVSCHED: Invalid Scheduled Delivery Time",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused the later send time our gateway gave \
                  for the message.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x00000062",
        official_name: "ESME_RINVEXPIRY: Invalid message validity period (Expiry time)",
        finality: Final,
        category: "account/config",
        meaning: "The carrier's message centre refused the time limit our gateway set for the \
                  message.",
        next_step: GATEWAY_SETTINGS,
    },
    ErrorNote {
        code: "0x00000064",
        official_name: "ESME_RX_T_APPN: ESME Receiver Temporary App Error Code",
        finality: Maybe,
        category: "unknown",
        meaning: "The receiving side reported a temporary error and did not say what it was.",
        next_step: RESEND_AFTER_NETWORK_FAULT,
    },
    ErrorNote {
        code: "0x00000065",
        official_name: "ESME_RX_P_APPN: ESME Receiver Permanent App Error Code",
        finality: Final,
        category: "unknown",
        meaning: "The receiving side reported a permanent error and did not say what it was.",
        next_step: PERMANENT_NO_REASON,
    },
    ErrorNote {
        code: "0x00000066",
        official_name: "ESME_RX_R_APPN: ESME Receiver Reject Message Error Code",
        finality: Final,
        category: "unknown",
        meaning: "The receiving side refused the message and did not say why.",
        next_step: PERMANENT_NO_REASON,
    },
    ErrorNote {
        code: "0x000000FE",
        official_name: "ESME_RDELIVERYFAILURE: Delivery Failure (data_sm_resp)",
        finality: Maybe,
        category: "unknown",
        meaning: "The message was not delivered and the carrier did not say why.",
        next_step: NO_REASON_GIVEN,
    },
    ErrorNote {
        code: "0x000000FF",
        official_name: "ESME_RUNKNOWNERR: Unknown Error",
        finality: Maybe,
        category: "unknown",
        meaning: "The carrier's message centre reported an error without saying what it was.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
];

const DESTINATION_FORMAT: &str = "Confirm the number with the user. If it is right, do not \
     resend: escalate to the messaging team with the message id.";
const PERMANENT_NO_REASON: &str = "Do not resend the same message. Escalate to the messaging \
     team with the message id.";

/// `stat:` words of a delivery receipt (SMPP 3.4 Appendix B; SKIPPED is SMPP 5.0).
pub(super) static RECEIPT_STAT: &[ErrorNote] = &[
    ErrorNote {
        code: "DELIVRD",
        official_name: "DELIVERED (message_state 2)",
        finality: Final,
        category: "status",
        meaning: DELIVERED_MEANING,
        next_step: DELIVERED_NEXT_STEP,
    },
    ErrorNote {
        code: "ENROUTE",
        official_name: "ENROUTE (message_state 1)",
        finality: NotFinal,
        category: "status",
        meaning: "The carrier's message centre has the message and is still trying to \
                  deliver it.",
        next_step: WAIT_FOR_REPORT,
    },
    ErrorNote {
        code: "EXPIRED",
        official_name: "EXPIRED (message_state 3)",
        finality: Maybe,
        category: "handset/unreachable",
        meaning: "The carrier stopped trying before the message reached the phone, often \
                  because the phone was off or out of signal for a long time.",
        next_step: RESEND_IF_PHONE_OK,
    },
    ErrorNote {
        code: "DELETED",
        official_name: "DELETED (message_state 4)",
        finality: Final,
        category: "unknown",
        meaning: "The carrier's message centre deleted the message before delivering it; it \
                  did not say why.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "UNDELIV",
        official_name: "UNDELIVERABLE (message_state 5)",
        finality: Maybe,
        category: "unknown",
        meaning: "The carrier reported that it could not deliver the message; the receipt did \
                  not say why.",
        next_step: NO_REASON_GIVEN,
    },
    ErrorNote {
        code: "ACCEPTD",
        official_name: "ACCEPTED (message_state 6)",
        finality: Maybe,
        category: "status",
        meaning: "The carrier's message centre marked the message as accepted. That does not \
                  confirm it reached the phone, and a later report may or may not follow.",
        next_step: WAIT_THEN_ASK,
    },
    ErrorNote {
        code: "UNKNOWN",
        official_name: "UNKNOWN (message_state 7)",
        finality: Maybe,
        category: "unknown",
        meaning: "The carrier's message centre reported an unknown state. We cannot tell \
                  whether the message reached the phone.",
        next_step: ASK_WHETHER_IT_ARRIVED,
    },
    ErrorNote {
        code: "REJECTD",
        official_name: "REJECTED (message_state 8)",
        finality: Final,
        category: "unknown",
        meaning: "The carrier's message centre refused the message; it did not say why.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
    ErrorNote {
        code: "SKIPPED",
        official_name: "SKIPPED (message_state 9, SMPP v5.0 only)",
        finality: Final,
        category: "unknown",
        meaning: "The carrier's message centre skipped the message without trying to deliver \
                  it; it did not say why.",
        next_step: RESEND_ONCE_THEN_ESCALATE,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_status_is_found_by_hex_in_any_case_or_width_and_by_name() {
        for key in [
            "0x0000000B",
            "0x0000000b",
            "0X0000000B",
            "0xB",
            "0xb",
            "0x000b",
            "ESME_RINVDSTADR",
            "esme_rinvdstadr",
        ] {
            assert_eq!(
                command_status(key).map(|n| n.code),
                Some("0x0000000B"),
                "{key:?}"
            );
        }
    }

    #[test]
    fn malformed_or_unlisted_command_status_is_not_found() {
        for key in [
            "",
            "0x",
            "0x000000000B",
            "0xZZ",
            "0x-1",
            "0x+B",
            "11",
            "0B",
            "x0B",
            "ESME_",
            "ESME_RNOPE",
            "ESME_RINVDSTADR: Invalid Dest Addr",
            "0x00000006",
            "0xFFFFFFFF",
        ] {
            assert_eq!(command_status(key), None, "{key:?}");
        }
    }

    #[test]
    fn receipt_words_need_upper_case_or_the_stat_prefix() {
        for word in ["DELIVRD", "stat:DELIVRD", "STAT:delivrd", "stat: DELIVRD"] {
            assert_eq!(
                receipt_stat(word).map(|n| n.code),
                Some("DELIVRD"),
                "{word:?}"
            );
        }
        for word in [
            "delivrd",
            "expired",
            "Expired",
            "stat:",
            "stat:DELIVERED",
            "DELIVERED",
        ] {
            assert_eq!(receipt_stat(word), None, "{word:?}");
        }
        // Multi-byte text must not be cut inside a character.
        assert_eq!(receipt_stat("ståt:DELIVRD"), None);
        assert_eq!(command_status("ESMÉ_RINVDSTADR"), None);
    }
}
