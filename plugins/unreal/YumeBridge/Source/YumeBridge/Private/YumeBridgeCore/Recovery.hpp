// What a client does when a session ends: a sentence that says why and how to fix it, whether trying
// again can help, and when to try again (capped exponential backoff). Pure functions of their inputs.
#pragma once

#include "Common.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace yumebridge {

// Why a session ended, in the words a game developer needs, for the log and for OnError.
struct Diagnosis {
    ErrorCode code = ErrorCode::Ok;
    std::string summary;  // one sentence: what happened
    std::string fix;      // one sentence: what to do about it
    bool retry_helps = false;
};

inline Diagnosis diagnose(ErrorCode code, const std::string& host, int port) {
    const std::string where = host + ":" + std::to_string(port);
    Diagnosis d;
    d.code = code;
    switch (code) {
        case ErrorCode::DaemonUnreachable:
            d.summary = "No yume_bridge daemon answered at " + where + ".";
            d.fix = "Start it with `yume-bridge serve` (add --host 0.0.0.0 to reach it from another machine), check "
                    "the host and port in Project Settings > Plugins > Yume Bridge, or use Find Yume Bridge Daemons.";
            d.retry_helps = true;
            break;
        case ErrorCode::DaemonSilent:
            d.summary = "The yume_bridge daemon at " + where + " stopped answering.";
            d.fix = "It may have crashed or the network dropped; it reconnects by itself when auto-reconnect is on.";
            d.retry_helps = true;
            break;
        case ErrorCode::UnsupportedVersion:
            d.summary = "The daemon at " + where + " speaks another protocol version than this plugin.";
            d.fix = "Update the plugin and `pip install -U yume-bridge` to matching releases.";
            break;
        case ErrorCode::AuthRequired:
            d.summary = "The daemon at " + where + " needs a token.";
            d.fix = "Pass the token the daemon printed at start-up to Connect, set YUME_BRIDGE_TOKEN, or enter it under "
                    "Project Settings > Plugins > Yume Bridge (this machine).";
            break;
        case ErrorCode::AuthFailed:
            d.summary = "The daemon at " + where + " refused the token.";
            d.fix = "Use the token the daemon printed at start-up (it changes on every start unless --token is given).";
            break;
        case ErrorCode::SessionLimit:
            d.summary = "The daemon at " + where + " already serves as many sessions as it allows.";
            d.fix = "Close another client (each PIE player or game instance with a connection counts) or start the "
                    "daemon with a higher --max-sessions.";
            d.retry_helps = true;
            break;
        case ErrorCode::ShuttingDown:
            d.summary = "The daemon at " + where + " is shutting down.";
            d.fix = "Start it again; the plugin reconnects by itself when auto-reconnect is on.";
            d.retry_helps = true;
            break;
        case ErrorCode::UnknownSession:
            d.summary = "The daemon at " + where + " no longer knows this session (it restarted or timed it out).";
            d.fix = "Connect again; auto-reconnect does this by itself.";
            d.retry_helps = true;
            break;
        case ErrorCode::Ok:
            d.summary = "The session with the daemon at " + where + " ended.";
            d.fix = "";
            break;
        default:
            d.summary = std::string("The session with the daemon at ") + where + " failed (" + error_code_name(code) + ").";
            d.fix = "See the daemon's log for details.";
            break;
    }
    return d;
}

// When to reconnect after a session ends that retrying may cure: doubling delays with a cap and
// optional jitter, and a limit on attempts (0: no limit). The caller supplies the clock and the
// random fraction, so the schedule is reproducible in tests.
struct BackoffConfig {
    Time initial = 1 * kSecond;
    Time maximum = 30 * kSecond;
    double multiplier = 2.0;
    double jitter = 0.2;  // each delay is shortened by up to this share, so clients do not retry in step
    int max_attempts = 0;
};

class ReconnectBackoff {
public:
    explicit ReconnectBackoff(BackoffConfig config = {}) : config_(config) {}

    // The session ended at `now`. Returns when to try again, or nothing when retrying cannot help
    // (a wrong token, another protocol version) or the attempts are used up. `random01` is in [0, 1).
    std::optional<Time> schedule(Time now, ErrorCode why, double random01 = 0.0) {
        if (!diagnose(why, "", 0).retry_helps) {
            return std::nullopt;
        }
        if (config_.max_attempts > 0 && attempts_ >= config_.max_attempts) {
            return std::nullopt;
        }
        double delay = static_cast<double>(config_.initial);
        for (int i = 0; i < attempts_ && delay < static_cast<double>(config_.maximum); ++i) {
            delay *= config_.multiplier;
        }
        // A full daemon frees a slot only when another client leaves: never hammer it.
        if (why == ErrorCode::SessionLimit) {
            delay = (std::max)(delay, 5.0 * static_cast<double>(kSecond));
        }
        delay = (std::min)(delay, static_cast<double>(config_.maximum));
        const double fraction = (std::min)((std::max)(random01, 0.0), 1.0);
        delay *= 1.0 - config_.jitter * fraction;
        ++attempts_;
        return now + static_cast<Time>(delay);
    }

    // A session reached Connected: the next failure starts again from the initial delay.
    void reset() { attempts_ = 0; }

    int attempts() const { return attempts_; }

private:
    BackoffConfig config_;
    int attempts_ = 0;
};

}  // namespace yumebridge
