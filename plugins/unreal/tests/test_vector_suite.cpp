// The vector suite that the Unreal automation test runs (Private/Tests/YumeBridgeVectorSuite.hpp),
// run here on the files in protocol/vectors and on the copy compiled into the plugin.
#include "Tests/YumeBridgeVectorData.inl"
#include "Tests/YumeBridgeVectorSuite.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace yumebridge;

namespace {

std::string read_vector_file(const char* name) {
    std::ifstream file(std::string(YUME_VECTOR_DIR) + "/" + name, std::ios::binary);
    REQUIRE_MESSAGE(file.good(), "cannot open protocol/vectors/" << name);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

void require_clean(const vectors::Report& report, std::size_t minimum_checks) {
    for (const std::string& failure : report.failures) {
        FAIL_CHECK(failure);
    }
    CHECK(report.ok());
    CHECK(report.checks >= minimum_checks);
}

}  // namespace

TEST_CASE("embedded vectors match protocol/vectors (else run plugins/unreal/tools/embed_vectors.py)") {
    CHECK(vectors::embedded::messages_json() == read_vector_file("messages.json"));
    CHECK(vectors::embedded::invalid_json() == read_vector_file("invalid.json"));
    CHECK(vectors::embedded::auth_json() == read_vector_file("auth.json"));
    CHECK(vectors::embedded::frames_json() == read_vector_file("frames.json"));
    CHECK(vectors::embedded::revision_1_1_json() == read_vector_file("revision_1_1.json"));
}

TEST_CASE("vector suite passes on the revision 1.1 messages, from the file and from the embedded copy") {
    require_clean(vectors::run_messages(read_vector_file("revision_1_1.json")), 6 * 2 * 4);
    require_clean(vectors::run_messages(vectors::embedded::revision_1_1_json()), 6 * 2 * 4);
}

TEST_CASE("vector suite passes on protocol/vectors") {
    require_clean(vectors::run_messages(read_vector_file("messages.json")), 24 * 2 * 8);
    require_clean(vectors::run_invalid(read_vector_file("invalid.json")), 20);
    require_clean(vectors::run_auth(read_vector_file("auth.json")), 3 + 2 + 4);
    require_clean(vectors::run_frames(read_vector_file("frames.json")), 9 * 2);
}

TEST_CASE("vector suite passes on the embedded copy, as the engine test runs it") {
    require_clean(vectors::run_all(vectors::embedded::messages_json(), vectors::embedded::invalid_json(),
                                   vectors::embedded::auth_json(), vectors::embedded::frames_json()),
                  400);
}

TEST_CASE("vector suite reports a corrupted vector instead of passing") {
    std::string messages = read_vector_file("messages.json");
    const std::size_t at = messages.find("\"quality\\\":85");
    REQUIRE(at != std::string::npos);
    messages.replace(at, 13, "\"quality\\\":86");
    const vectors::Report report = vectors::run_messages(messages);
    CHECK_FALSE(report.ok());
    std::string frames = read_vector_file("frames.json");
    const std::size_t complete = frames.find("\"complete\": [\n    61\n   ]");
    REQUIRE(complete != std::string::npos);
    frames.replace(complete, 25, "\"complete\": [\n    62\n   ]");
    CHECK_FALSE(vectors::run_frames(frames).ok());
    CHECK_FALSE(vectors::run_auth("{}").ok());
    CHECK_FALSE(vectors::run_invalid("not json").ok());
}
