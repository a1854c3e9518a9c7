#include "courier/train/delivery.h"

#include <fmt/format.h>

#include "courier/train/faults.h"

namespace courier {

Status configure_delivery(const Config& config, LaunchOptions& launch, NetworkReport* report) {
  if (!config.dist.faults.empty()) {
    Result<TrainFaults> faults = parse_train_faults(config.dist.faults);
    if (!faults.is_ok()) return faults.status();
    if (faults->network_faults()) launch.faults = faults->network;
  }
  launch.reliable = config.dist.delivery == "reliable";
  if (launch.faults && !launch.reliable) launch.communicator.payload_checksums = true;
  if (launch.faults || launch.reliable) launch.network_report = report;
  return Status::ok();
}

nlohmann::json network_record(const NetworkReport& report, std::string_view delivery) {
  const FaultyTransport::Counts& i = report.injected;
  const ReliableTransport::Counts& r = report.reliable;
  return {{"kind", "network"},
          {"delivery", delivery},
          {"injected",
           {{"frames", i.sends}, {"drops", i.drops}, {"corruptions", i.corruptions}, {"duplicates", i.duplicates},
            {"delays", i.delays}, {"reorders", i.reorders}}},
          {"reliable",
           {{"sent", r.sent}, {"resent", r.resent}, {"delivered", r.delivered}, {"rejected", r.rejected},
            {"duplicates_dropped", r.duplicates_dropped}, {"out_of_order_held", r.out_of_order_held},
            {"acks_sent", r.acks_sent}, {"acks_received", r.acks_received}, {"gave_up", r.gave_up}}}};
}

std::string describe_network(const NetworkReport& report, std::string_view delivery) {
  const FaultyTransport::Counts& i = report.injected;
  const ReliableTransport::Counts& r = report.reliable;
  std::string text = fmt::format("network ({} delivery): ", delivery);
  if (i.sends > 0) {
    text += fmt::format("injected {} drops, {} corruptions, {} duplicates, {} delays, {} reorders in {} frames",
                        i.drops, i.corruptions, i.duplicates, i.delays, i.reorders, i.sends);
  }
  if (delivery == "reliable") {
    text += fmt::format("{}{} messages delivered, {} re-sent, {} damaged frames rejected, {} duplicates dropped, "
                        "{} held out of order, {} given up",
                        i.sends > 0 ? "; " : "", r.delivered, r.resent, r.rejected, r.duplicates_dropped,
                        r.out_of_order_held, r.gave_up);
  }
  return text;
}

}  // namespace courier
