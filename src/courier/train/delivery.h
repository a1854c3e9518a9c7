// dist.faults (its network part) and dist.delivery: the layers an in-process run's messages go
// through (comm/transport/faulty, comm/transport/reliable), and the report of what they counted.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "courier/comm/launch.h"
#include "courier/core/status.h"
#include "courier/train/config.h"

namespace courier {

// Sets launch.faults and launch.reliable from the config, and launch.network_report to `report`
// when either is on. Under faults with checked delivery the communicators checksum payloads
// too, so that a damaged message fails the step instead of training on it.
// REQUIRES: validate(config) passed.
Status configure_delivery(const Config& config, LaunchOptions& launch, NetworkReport* report);

// The metrics.jsonl record: {"kind": "network", "delivery": "reliable", "injected": {...},
// "reliable": {...}} with every counter.
nlohmann::json network_record(const NetworkReport& report, std::string_view delivery);

// One line for people: what was injected, and what reliable delivery found and repaired.
std::string describe_network(const NetworkReport& report, std::string_view delivery);

}  // namespace courier
