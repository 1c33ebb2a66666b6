// yume_interop: drives the plugin's protocol core against a running daemon over real UDP sockets.
//
//   yume_interop --host 127.0.0.1 --port 47812 --image start.jpg [--token T] [--seconds S]
//                [--encoding msgpack|json] [--handshake-timeout S] [--min-frames N] [--no-action-check]
//                [--loss PERCENT] [--find SECONDS]
//
// With --find, --host is not needed: it first finds the daemon listening on --port by DNS-SD
// (`_yume-bridge._udp.local.`, queried on 127.0.0.1:5353 and the mDNS group) and connects to the
// address the advertisement gives.
//
// It completes the handshake, uploads the image and starts from it, holds W and then W with look
// right, sends an event prompt and waits for its ack, and decodes every complete frame with
// libturbojpeg to check it is a baseline 4:2:0 JPEG of the welcome's size. --loss drops that share of
// the incoming frame fragments on purpose, to exercise NACKs and the daemon's retransmissions. It prints one line of JSON
// and exits 0 on success, 1 on a failed check (with the reason on stderr), 2 on bad arguments.
#include "YumeBridgeCore/YumeBridgeCore.hpp"

#include <turbojpeg.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <string>

using namespace yumebridge;

namespace {

struct Options {
    std::string host;
    std::string port;
    std::string image;
    std::string token;
    double seconds = 6.0;
    double handshake_timeout = 10.0;
    std::size_t min_frames = 3;
    bool action_check = true;
    double loss_percent = 0.0;
    Encoding encoding = Encoding::MsgPack;
    double find_seconds = 0.0;
};

const char* kUsage =
    "usage: yume_interop --host HOST --port PORT --image FILE [--token TOKEN] [--seconds S]\n"
    "                    [--encoding msgpack|json] [--handshake-timeout S] [--min-frames N] [--no-action-check]\n"
    "                    [--loss PERCENT] [--find SECONDS]\n";

bool parse_arguments(int argc, char** argv, Options& options, std::string& error) {
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--no-action-check") {
            options.action_check = false;
            continue;
        }
        if (flag == "--help" || flag == "-h") {
            error = "help";
            return false;
        }
        if (i + 1 >= argc) {
            error = flag + " needs a value";
            return false;
        }
        const std::string value = argv[++i];
        char* end = nullptr;
        if (flag == "--host") {
            options.host = value;
        } else if (flag == "--port") {
            options.port = value;
        } else if (flag == "--image") {
            options.image = value;
        } else if (flag == "--token") {
            options.token = value;
        } else if (flag == "--seconds") {
            options.seconds = std::strtod(value.c_str(), &end);
        } else if (flag == "--handshake-timeout") {
            options.handshake_timeout = std::strtod(value.c_str(), &end);
        } else if (flag == "--find") {
            options.find_seconds = std::strtod(value.c_str(), &end);
        } else if (flag == "--loss") {
            options.loss_percent = std::strtod(value.c_str(), &end);
        } else if (flag == "--min-frames") {
            options.min_frames = static_cast<std::size_t>(std::strtoul(value.c_str(), &end, 10));
        } else if (flag == "--encoding") {
            if (value != "msgpack" && value != "json") {
                error = "--encoding must be msgpack or json";
                return false;
            }
            options.encoding = value == "json" ? Encoding::Json : Encoding::MsgPack;
        } else {
            error = "unknown argument " + flag;
            return false;
        }
        if (end != nullptr && *end != '\0') {
            error = flag + " needs a number";
            return false;
        }
    }
    if ((options.host.empty() && options.find_seconds <= 0) || options.port.empty() || options.image.empty()) {
        error = "--host (or --find), --port and --image are required";
        return false;
    }
    if (options.seconds <= 0 || options.handshake_timeout <= 0) {
        error = "--seconds and --handshake-timeout must be positive";
        return false;
    }
    if (options.loss_percent < 0 || options.loss_percent >= 100) {
        error = "--loss must be a percentage in [0, 100)";
        return false;
    }
    return true;
}

Time monotonic_now() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The start-of-frame marker of a JPEG: 0xC0 for baseline, 0xC2 for progressive, 0 if none is found.
int jpeg_frame_marker(const Bytes& jpeg) {
    std::size_t i = 2;
    if (jpeg.size() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) {
        return 0;
    }
    while (i + 4 <= jpeg.size()) {
        if (jpeg[i] != 0xFF) {
            return 0;
        }
        const int marker = jpeg[i + 1];
        if (marker == 0xFF) {
            ++i;
            continue;
        }
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            return marker;
        }
        const std::size_t length = static_cast<std::size_t>((jpeg[i + 2] << 8) | jpeg[i + 3]);
        i += 2 + length;
    }
    return 0;
}

struct Summary {
    bool connected = false;
    std::string daemon_version;
    std::string backend;
    std::string model;
    bool authenticated = false;
    std::uint32_t session = 0;
    std::int64_t width = 0;
    std::int64_t height = 0;
    double fps = 0;
    std::int64_t upload_bytes = 0;
    bool upload_complete = false;
    bool started = false;
    std::int64_t world = 0;
    std::uint32_t seed = 0;
    bool event_acked = false;
    std::int64_t event_chunk = -1;
    std::size_t frames = 0;
    std::size_t decoded = 0;
    std::size_t fragments_lost_on_purpose = 0;
    std::size_t retransmissions = 0;
    std::size_t wrong_size = 0;
    std::size_t not_baseline_420 = 0;
    std::size_t undecodable = 0;
    std::set<int> actions;
    std::set<std::uint32_t> chunks;
    std::string found_instance;  // --find: the advertisement that gave the address
    std::uint32_t first_frame = 0;
    std::uint32_t last_frame = 0;
    double rtt_ms = -1;
    double input_latency_ms = -1;
    std::string last_state;
    std::string error_code;
    std::string error;
};

void print_summary(const Summary& s, const Options& options, bool ok, const ClientStats& stats,
                   const ReassemblyStats& frames) {
    Value out = Value::map();
    out.add("ok", Value::boolean(ok));
    if (!ok) {
        out.add("error_code", Value::string(s.error_code));
        out.add("error", Value::string(s.error));
    }
    out.add("host", Value::string(options.host));
    out.add("port", Value::string(options.port));
    out.add("encoding", Value::string(options.encoding == Encoding::Json ? "json" : "msgpack"));
    if (options.find_seconds > 0) {
        out.add("found_instance", Value::string(s.found_instance));
    }
    out.add("connected", Value::boolean(s.connected));
    out.add("daemon_version", Value::string(s.daemon_version));
    out.add("backend", Value::string(s.backend));
    out.add("model", Value::string(s.model));
    out.add("authenticated", Value::boolean(s.authenticated));
    out.add("session", Value::integer(s.session));
    out.add("width", Value::integer(s.width));
    out.add("height", Value::integer(s.height));
    out.add("fps", Value::floating(s.fps));
    out.add("upload_bytes", Value::integer(s.upload_bytes));
    out.add("upload_complete", Value::boolean(s.upload_complete));
    out.add("started", Value::boolean(s.started));
    out.add("world", Value::integer(s.world));
    out.add("seed", Value::integer(s.seed));
    out.add("event_acked", Value::boolean(s.event_acked));
    out.add("event_chunk", Value::integer(s.event_chunk));
    out.add("frames", Value::integer(static_cast<std::int64_t>(s.frames)));
    out.add("frames_complete", Value::integer(static_cast<std::int64_t>(s.frames)));
    out.add("decoded", Value::integer(static_cast<std::int64_t>(s.decoded)));
    out.add("wrong_size", Value::integer(static_cast<std::int64_t>(s.wrong_size)));
    out.add("not_baseline_420", Value::integer(static_cast<std::int64_t>(s.not_baseline_420)));
    out.add("undecodable", Value::integer(static_cast<std::int64_t>(s.undecodable)));
    out.add("first_frame", Value::integer(s.first_frame));
    out.add("last_frame", Value::integer(s.last_frame));
    std::vector<Value> actions;
    for (int action : s.actions) {
        actions.push_back(Value::integer(action));
    }
    out.add("actions", Value::array(std::move(actions)));
    out.add("chunks", Value::integer(static_cast<std::int64_t>(s.chunks.size())));
    out.add("rtt_ms", Value::floating(s.rtt_ms));
    out.add("input_latency_ms", Value::floating(s.input_latency_ms));
    out.add("state", Value::string(s.last_state));
    out.add("datagrams_received", Value::integer(static_cast<std::int64_t>(stats.datagrams_received)));
    out.add("datagrams_sent", Value::integer(static_cast<std::int64_t>(stats.datagrams_sent)));
    out.add("dropped", Value::integer(static_cast<std::int64_t>(stats.dropped_invalid + stats.dropped_unauthenticated +
                                                                stats.dropped_replayed + stats.dropped_other_session)));
    out.add("fragments_dropped", Value::integer(static_cast<std::int64_t>(frames.dropped)));
    out.add("frames_abandoned", Value::integer(static_cast<std::int64_t>(frames.frames_abandoned)));
    out.add("nacks", Value::integer(static_cast<std::int64_t>(frames.nacks)));
    out.add("loss_percent", Value::floating(options.loss_percent));
    out.add("fragments_lost_on_purpose", Value::integer(static_cast<std::int64_t>(s.fragments_lost_on_purpose)));
    out.add("retransmissions", Value::integer(static_cast<std::int64_t>(s.retransmissions)));
    std::cout << json::to_string(out) << std::endl;
}

class UdpSocket {
public:
    ~UdpSocket() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    bool open(const std::string& host, const std::string& port, std::string& error) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        addrinfo* results = nullptr;
        const int status = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &results);
        if (status != 0) {
            error = "cannot resolve " + host + ":" + port + ": " + gai_strerror(status);
            return false;
        }
        for (addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
            fd_ = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
            if (fd_ < 0) {
                continue;
            }
            if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) == 0) {
                break;
            }
            ::close(fd_);
            fd_ = -1;
        }
        ::freeaddrinfo(results);
        if (fd_ < 0) {
            error = "cannot open a UDP socket to " + host + ":" + port + ": " + std::strerror(errno);
            return false;
        }
        const int buffer = 4 << 20;  // SPEC §6.3: at least 1 MiB
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
        return true;
    }

    void send(const Bytes& datagram) {
        if (::send(fd_, datagram.data(), datagram.size(), 0) < 0 && errno == ECONNREFUSED) {
            refused_ = true;
        }
    }

    // Receives one datagram without blocking; false when none is waiting.
    bool receive(Bytes& buffer, std::size_t& size) {
        for (;;) {
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n >= 0) {
                size = static_cast<std::size_t>(n);
                return true;
            }
            if (errno == ECONNREFUSED) {
                refused_ = true;  // ICMP port unreachable: nothing listens there (yet)
                continue;
            }
            return false;
        }
    }

    void wait(Time timeout) {
        pollfd entry{fd_, POLLIN, 0};
        const int milliseconds = static_cast<int>((std::max)(Time{0}, (std::min)(timeout, Time{50000})) / 1000);
        ::poll(&entry, 1, milliseconds);
    }

    bool refused() const { return refused_; }

private:
    int fd_ = -1;
    bool refused_ = false;
};

// Browses for the daemon on `port` with the core's DNS-SD codec: queries from an ephemeral port go
// to 127.0.0.1:5353 and the mDNS group, so responders answer this socket directly (RFC 6762 §6.7).
std::optional<dnssd::Service> find_daemon(double seconds, std::uint16_t port, std::string& error) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        error = std::string("cannot open a UDP socket: ") + std::strerror(errno);
        return std::nullopt;
    }
    const Bytes query = dnssd::build_query().value();
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(dnssd::kPort);
    ::inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    sockaddr_in group = local;
    ::inet_pton(AF_INET, dnssd::kMulticastAddressV4, &group.sin_addr);
    dnssd::ServiceCollector collector;
    Bytes buffer(dnssd::kMaxMessage);
    const Time deadline = monotonic_now() + static_cast<Time>(seconds * kSecond);
    Time next_query = 0;
    Time interval = 250 * kMillisecond;
    std::optional<dnssd::Service> found;
    while (!found && monotonic_now() < deadline) {
        if (monotonic_now() >= next_query) {
            ::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&local), sizeof(local));
            // The group, through the default interface and through loopback (a box without a route).
            for (const char* interface : {"0.0.0.0", "127.0.0.1"}) {
                in_addr chosen{};
                ::inet_pton(AF_INET, interface, &chosen);
                ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &chosen, sizeof(chosen));
                ::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&group), sizeof(group));
            }
            next_query = monotonic_now() + interval;
            interval *= 2;
        }
        pollfd entry{fd, POLLIN, 0};
        ::poll(&entry, 1, 50);
        for (;;) {
            const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n < 0) {
                break;
            }
            const Result<dnssd::Message> message = dnssd::parse_message(ByteView(buffer.data(), static_cast<std::size_t>(n)));
            if (message.ok()) {
                collector.add(message.value());
            }
        }
        for (const dnssd::Service& service : collector.services()) {
            if (service.port == port && !service.addresses.empty()) {
                found = service;
            }
        }
    }
    ::close(fd);
    if (!found) {
        error = "no _yume-bridge._udp.local. advertisement for port " + std::to_string(port) + " within " +
                std::to_string(seconds) + " s";
    }
    return found;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    std::string argument_error;
    if (!parse_arguments(argc, argv, options, argument_error)) {
        if (argument_error != "help") {
            std::cerr << "yume_interop: " << argument_error << "\n";
        }
        std::cerr << kUsage;
        return argument_error == "help" ? 0 : 2;
    }
    Summary summary;
    Connection* connection_for_summary = nullptr;
    auto finish = [&](bool ok, ErrorCode code, const std::string& message) {
        if (!ok) {
            summary.error_code = error_code_name(code);
            summary.error = message;
            std::cerr << "yume_interop: " << message << "\n";
        }
        static const ClientStats kNoStats{};
        static const ReassemblyStats kNoFrames{};
        print_summary(summary, options, ok, connection_for_summary ? connection_for_summary->stats() : kNoStats,
                      connection_for_summary ? connection_for_summary->frame_stats() : kNoFrames);
        return ok ? 0 : 1;
    };

    std::ifstream file(options.image, std::ios::binary);
    Bytes image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (!file.good() && !file.eof()) {
        return finish(false, ErrorCode::InvalidArgument, "cannot read the image file " + options.image);
    }
    if (image.empty()) {
        return finish(false, ErrorCode::InvalidArgument, "the image file " + options.image + " is missing or empty");
    }

    if (options.find_seconds > 0) {
        std::string find_error;
        const std::optional<dnssd::Service> daemon =
            find_daemon(options.find_seconds, static_cast<std::uint16_t>(std::strtoul(options.port.c_str(), nullptr, 10)), find_error);
        if (!daemon) {
            return finish(false, ErrorCode::DaemonUnreachable, find_error);
        }
        summary.found_instance = daemon->instance;
        options.host = daemon->addresses.front();
    }

    UdpSocket socket;
    std::string socket_error;
    if (!socket.open(options.host, options.port, socket_error)) {
        return finish(false, ErrorCode::DaemonUnreachable, socket_error);
    }

    ClientConfig config;
    config.client_name = "yume-bridge-unreal-interop";
    config.engine = "host (yume_interop)";
    config.token = options.token;
    config.encoding = options.encoding;
    config.handshake_timeout = static_cast<Time>(options.handshake_timeout * kSecond);
    Connection connection(config);
    connection_for_summary = &connection;

    tjhandle decoder = tjInitDecompress();
    if (decoder == nullptr) {
        return finish(false, ErrorCode::InvalidArgument, std::string("libturbojpeg: ") + tjGetErrorStr());
    }
    struct DecoderGuard {
        tjhandle handle;
        ~DecoderGuard() { tjDestroy(handle); }
    } decoder_guard{decoder};
    std::vector<unsigned char> pixels;

    const Time begin = monotonic_now();
    VoidResult connecting = connection.connect(begin, random_nonce());
    if (!connecting) {
        return finish(false, connecting.code(), connecting.error().detail);
    }

    InputState walk;
    walk.move = {0.0, 1.0};
    walk.keys = {"KeyW"};
    InputState walk_and_turn = walk;
    walk_and_turn.look = {1.0, 0.0};
    walk_and_turn.keys = {"KeyW", "ArrowRight"};

    const Time stream_time = static_cast<Time>(options.seconds * kSecond);
    Time connected_at = 0;
    Time started_at = 0;
    Time event_sent_at = 0;
    bool turning = false;
    std::optional<std::uint32_t> event_id;
    Bytes buffer(65536);
    std::mt19937 random(12345);
    std::uniform_real_distribution<double> loss(0.0, 100.0);
    std::optional<std::pair<ErrorCode, std::string>> failure;

    for (;;) {
        Time now = monotonic_now();
        std::size_t size = 0;
        while (socket.receive(buffer, size)) {
            const ByteView datagram(buffer.data(), size);
            if (classify_datagram(datagram) == DatagramKind::Fragment) {
                const std::optional<FrameHeader> header = parse_fragment_header(datagram);
                if (header && header->retransmission()) {
                    ++summary.retransmissions;
                } else if (options.loss_percent > 0 && loss(random) < options.loss_percent) {
                    ++summary.fragments_lost_on_purpose;  // first transmissions only, so a NACK can recover it
                    continue;
                }
            }
            connection.receive_datagram(datagram, now);
        }
        now = monotonic_now();
        const std::optional<Time> timer = connection.get_timer();
        if (timer && *timer <= now) {
            connection.handle_timer(now);
        }

        while (std::optional<ClientEvent> event = connection.next_event()) {
            if (const auto* connected = std::get_if<ev::Connected>(&*event)) {
                const msg::Welcome& w = connected->welcome;
                summary.connected = true;
                summary.daemon_version = w.daemon_version;
                summary.backend = w.backend;
                summary.model = w.model;
                summary.authenticated = connection.authenticated();
                summary.session = w.session;
                summary.width = w.width;
                summary.height = w.height;
                summary.fps = w.fps;
                summary.last_state = w.state;
                connected_at = now;
                connection.set_input(now, walk);
                Result<Digest> upload = connection.start_from_image(now, image);
                if (!upload) {
                    failure = std::make_pair(upload.code(), "cannot upload the image: " + upload.error().detail);
                }
            } else if (const auto* progress = std::get_if<ev::UploadProgress>(&*event)) {
                summary.upload_bytes = progress->received;
            } else if (std::get_if<ev::UploadComplete>(&*event) != nullptr) {
                summary.upload_complete = true;
            } else if (const auto* started = std::get_if<ev::Started>(&*event)) {
                summary.started = true;
                summary.world = started->world;
                summary.seed = started->seed;
                started_at = now;
                Result<std::uint32_t> sent = connection.send_event(now, "a dragon circles the tower");
                if (!sent) {
                    failure = std::make_pair(sent.code(), "cannot send the event: " + sent.error().detail);
                } else {
                    event_id = sent.value();
                    event_sent_at = now;
                }
            } else if (const auto* ack = std::get_if<ev::EventAcknowledged>(&*event)) {
                if (event_id && ack->id == *event_id) {
                    summary.event_acked = true;
                    summary.event_chunk = ack->chunk;
                }
            } else if (const auto* status = std::get_if<ev::StatusReport>(&*event)) {
                summary.last_state = status->status.state;
            } else if (const auto* rtt = std::get_if<ev::RoundTrip>(&*event)) {
                summary.rtt_ms = static_cast<double>(rtt->smoothed) / 1000.0;
            } else if (const auto* error = std::get_if<ev::Error>(&*event)) {
                failure = std::make_pair(error->code, std::string("the daemon reported ") + error->code_name + " (" +
                                                          error_context_name(error->context) + "): " + error->message);
            } else if (const auto* closed = std::get_if<ev::Closed>(&*event)) {
                std::string message = closed->message;
                if (closed->code == ErrorCode::DaemonUnreachable && socket.refused()) {
                    message += " (the port answered 'port unreachable': nothing listens on " + options.host + ":" +
                               options.port + ")";
                }
                failure = std::make_pair(closed->code == ErrorCode::Ok ? ErrorCode::ProtocolViolation : closed->code,
                                         "the session ended: " + message);
            }
        }

        while (std::optional<Connection::ReceivedFrame> received = connection.take_frame()) {
            const CompleteFrame& frame = received->frame;
            if (summary.frames == 0) {
                summary.first_frame = frame.header.frame;
            }
            ++summary.frames;
            summary.last_frame = frame.header.frame;
            summary.actions.insert(frame.header.action);
            summary.chunks.insert(frame.header.chunk);
            if (received->input_latency) {
                summary.input_latency_ms = static_cast<double>(*received->input_latency) / 1000.0;
            }
            int width = 0;
            int height = 0;
            int subsampling = -1;
            int colorspace = -1;
            unsigned char* data = const_cast<unsigned char*>(frame.jpeg.data());
            const unsigned long length = static_cast<unsigned long>(frame.jpeg.size());
            if (tjDecompressHeader3(decoder, data, length, &width, &height, &subsampling, &colorspace) != 0) {
                ++summary.undecodable;
                continue;
            }
            pixels.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3u);
            if (tjDecompress2(decoder, data, length, pixels.data(), width, 0, height, TJPF_RGB, 0) != 0) {
                ++summary.undecodable;
                continue;
            }
            ++summary.decoded;
            if (width != summary.width || height != summary.height) {
                ++summary.wrong_size;
            }
            if (subsampling != TJSAMP_420 || jpeg_frame_marker(frame.jpeg) != 0xC0) {
                ++summary.not_baseline_420;
            }
        }

        if (started_at != 0 && !turning && now - started_at >= stream_time / 2) {
            connection.set_input(now, walk_and_turn);
            turning = true;
        }

        for (const Bytes& datagram : connection.datagrams_to_send()) {
            socket.send(datagram);
        }

        if (failure) {
            break;
        }
        if (connected_at != 0 && started_at == 0 && now - connected_at > 30 * kSecond) {
            failure = std::make_pair(ErrorCode::StartFailed, "no started within 30 s of the welcome");
            break;
        }
        if (event_sent_at != 0 && !summary.event_acked && now - event_sent_at > 10 * kSecond) {
            failure = std::make_pair(ErrorCode::ProtocolViolation, "the event was not acknowledged within 10 s");
            break;
        }
        if (started_at != 0 && now - started_at >= stream_time && summary.event_acked) {
            break;
        }
        const std::optional<Time> next = connection.get_timer();
        const Time wait = next ? (std::min)(*next - monotonic_now(), 20 * kMillisecond) : 20 * kMillisecond;
        socket.wait(wait);
    }

    if (connection.connected()) {
        connection.close(monotonic_now());
        for (const Bytes& datagram : connection.datagrams_to_send()) {
            socket.send(datagram);
        }
    }
    if (failure) {
        return finish(false, failure->first, failure->second);
    }
    if (!summary.upload_complete) {
        return finish(false, ErrorCode::UploadFailed, "the daemon never reported the upload complete");
    }
    if (summary.decoded < options.min_frames) {
        return finish(false, ErrorCode::ProtocolViolation,
                      "only " + std::to_string(summary.decoded) + " complete frames decoded in " +
                          std::to_string(options.seconds) + " s (at least " + std::to_string(options.min_frames) +
                          " expected)");
    }
    if (summary.undecodable > 0 || summary.wrong_size > 0 || summary.not_baseline_420 > 0) {
        return finish(false, ErrorCode::ProtocolViolation,
                      std::to_string(summary.undecodable) + " frames undecodable, " + std::to_string(summary.wrong_size) +
                          " not " + std::to_string(summary.width) + "x" + std::to_string(summary.height) + ", " +
                          std::to_string(summary.not_baseline_420) + " not baseline 4:2:0");
    }
    if (options.loss_percent > 0 && summary.fragments_lost_on_purpose > 0 && summary.retransmissions == 0) {
        return finish(false, ErrorCode::ProtocolViolation,
                      std::to_string(connection.frame_stats().nacks) + " NACKs sent for " +
                          std::to_string(summary.fragments_lost_on_purpose) + " dropped fragments, but no retransmission came");
    }
    if (options.action_check) {
        bool walked = false;
        for (int action : summary.actions) {
            walked = walked || action / 9 == 1;  // movement W (SPEC §7)
        }
        if (!walked) {
            return finish(false, ErrorCode::ProtocolViolation,
                          "no frame reflects the held W (movement id 1 = actions 9..17); pass --no-action-check to skip");
        }
    }
    return finish(true, ErrorCode::Ok, "");
}
