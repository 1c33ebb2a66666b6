// Compiles the core together with the vector suite the engine test uses, with the strict flags
// of CMakeLists.txt (no exceptions, no RTTI, -Wconversion -Wshadow ... -Werror).
#include "YumeBridgeCore/YumeBridgeCore.hpp"
#include "Tests/YumeBridgeVectorData.inl"
#include "Tests/YumeBridgeVectorSuite.hpp"

// Instantiate the templates and inline functions the engine uses, so that they are checked too.
std::size_t yume_strict_check_instantiate() {
    yumebridge::Connection connection;
    (void)connection.connect(0, yumebridge::random_nonce());
    connection.handle_timer(1);
    const yumebridge::vectors::Report report = yumebridge::vectors::run_all(
        yumebridge::vectors::embedded::messages_json(), yumebridge::vectors::embedded::invalid_json(),
        yumebridge::vectors::embedded::auth_json(), yumebridge::vectors::embedded::frames_json());
    yumebridge::FrameQueue<yumebridge::Bytes> frames;
    frames.push().assign(1, 0);
    yumebridge::Bytes shown;
    (void)frames.take_to_show(shown);
    return report.checks + connection.datagrams_to_send().size() + shown.size() + frames.size() +
           static_cast<std::size_t>(frames.dropped());
}
