// The `rampart` binary: parses the command line and hands over to the component that does the
// work. Nothing else lives here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "cli/audit_commands.h"
#include "cli/commands.h"
#include "cli/evidence_commands.h"
#include "cli/verify_install.h"
#include "common/crypto.h"
#include "detect/file_integrity.h"
#include "detect/scan.h"
#include "server/config_check.h"
#include "server/demo_breach.h"
#include "server/keeper_process.h"
#include "server/serve.h"

namespace {

// The bundled Sigma rules: $RAMPART_RULES_DIR when set, else the tree the binary was built from.
std::string BundledRulesDir() {
  const char* env = std::getenv("RAMPART_RULES_DIR");
  return env != nullptr && *env != '\0' ? env : RAMPART_BUNDLED_RULES_DIR;
}

// The bundled playbooks: $RAMPART_PLAYBOOKS_DIR when set, else the tree the binary was built from.
std::string BundledPlaybooksDir() {
  const char* env = std::getenv("RAMPART_PLAYBOOKS_DIR");
  return env != nullptr && *env != '\0' ? env : RAMPART_BUNDLED_PLAYBOOKS_DIR;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Rampart: a mobile device management server that defends itself"};
  app.require_subcommand(1);
  int exit_code = 0;

  rampart::server::ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run the server");
  serve_cmd->add_option("--data", serve.data_dir, "Data directory")->required();
  serve.bundled_rules_dir = BundledRulesDir();
  serve.bundled_playbooks_dir = BundledPlaybooksDir();
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (default 127.0.0.1:8443)");
  serve_cmd->add_option("--config", serve.config_file, "YAML configuration file")
      ->check(CLI::ExistingFile);
  serve_cmd->add_flag("--demo", serve.demo, "Seed a demo institution and print tokens");
  serve_cmd->add_flag("--insecure-http", serve.plain_http,
                      "Serve plain HTTP (local debugging only)");
  serve_cmd->callback([&] { exit_code = rampart::server::Serve(serve); });

  rampart::server::KeeperProcessOptions keeper;
  auto* keeper_cmd = app.add_subcommand(
      "keeper", "Run the keeper: the process that holds the keys (serve starts one by default)");
  // Required to run the keeper, not for its retire-master-key subcommand.
  keeper.data_dir.clear();
  keeper_cmd->add_option("--data", keeper.data_dir, "Data directory (keys in DATA/keeper)");
  keeper_cmd->add_option("--socket", keeper.socket_path,
                         "Unix socket to listen on (default DATA/run/keeper.sock)");
  keeper_cmd->add_option("--config", keeper.config_file, "YAML configuration file")
      ->check(CLI::ExistingFile);
  std::string retire_keys;
  int64_t retire_version = 0;
  auto* retire_cmd = keeper_cmd->add_subcommand(
      "retire-master-key",
      "Delete an old staff-data master key version (keeper host, keeper stopped); rows still on "
      "it no longer open: check GET /api/v1/keys/master first");
  retire_cmd->add_option("--keys", retire_keys, "The keeper's key directory (DATA/keeper)")
      ->required()
      ->check(CLI::ExistingDirectory);
  retire_cmd->add_option("--version", retire_version, "The version to retire")
      ->required()
      ->check(CLI::PositiveNumber);
  retire_cmd->callback(
      [&] { exit_code = rampart::server::RetireMasterKey(retire_keys, retire_version); });
  keeper_cmd->callback([&] {
    if (retire_cmd->parsed()) return;
    if (keeper.data_dir.empty()) {
      std::cerr << "rampart keeper: --data is required\n";
      exit_code = 2;
      return;
    }
    exit_code = rampart::server::RunKeeper(keeper);
  });

  std::string data_dir;
  auto* admin = app.add_subcommand("admin", "Administer a data directory");
  admin->add_option("--data", data_dir, "Data directory")->required();
  admin->require_subcommand(1);

  auto* institution = admin->add_subcommand("institution", "Institutions");
  institution->require_subcommand(1);
  std::string inst_name;
  auto* inst_create = institution->add_subcommand("create", "Create an institution, print its id");
  inst_create->add_option("NAME", inst_name, "Institution name")->required();
  inst_create->callback([&] { exit_code = rampart::cli::InstitutionCreate(data_dir, inst_name); });

  auto* token = admin->add_subcommand("token", "API tokens");
  token->require_subcommand(1);
  std::string role, token_inst, token_name = "cli";
  int64_t token_expires = 90 * 24 * 3600;
  auto* token_create = token->add_subcommand("create", "Create an API token, print it once");
  token_create->add_option("--role", role, "superadmin|admin|helpdesk|analyst|auditor")->required();
  token_create->add_option("--institution", token_inst, "Institution id (all but superadmin)");
  token_create->add_option("--name", token_name, "A label for the token");
  token_create->add_option("--expires-in", token_expires, "Seconds until expiry (0: never)")
      ->check(CLI::NonNegativeNumber);
  token_create->callback([&] {
    exit_code = rampart::cli::TokenCreate(data_dir, role, token_inst, token_name, token_expires);
  });

  std::string user_name, user_role, user_inst;
  auto* user_create =
      admin->add_subcommand("create-user", "Create a console user, print its password once");
  // `rampart admin create-user --data DIR ...` reads naturally too: --data falls through to
  // `admin`.
  user_create->fallthrough();
  user_create->add_option("--username", user_name, "Login name (3-64 printable characters)")
      ->required();
  user_create->add_option("--role", user_role, "superadmin|admin|helpdesk|analyst|auditor")
      ->required();
  user_create->add_option("--institution", user_inst, "Institution id (all but superadmin)");
  user_create->callback(
      [&] { exit_code = rampart::cli::UserCreate(data_dir, user_name, user_role, user_inst); });

  std::string bouncer_name;
  auto* bouncer_create = admin->add_subcommand(
      "create-bouncer-key", "Create an API key for a CrowdSec bouncer, print it once");
  bouncer_create->fallthrough();
  bouncer_create->add_option("--name", bouncer_name, "A label for the bouncer")->required();
  bouncer_create->callback(
      [&] { exit_code = rampart::cli::BouncerKeyCreate(data_dir, bouncer_name); });

  auto* enrollment = admin->add_subcommand("enrollment", "Enrollment tokens");
  enrollment->require_subcommand(1);
  std::string enr_inst, enr_staff;
  int64_t max_uses = 1, enr_expires = 7 * 24 * 3600;
  auto* enr_create = enrollment->add_subcommand("create", "Create an enrollment token");
  enr_create->add_option("--institution", enr_inst, "Institution id")->required();
  enr_create->add_option("--staff", enr_staff, "Staff member the devices belong to");
  enr_create->add_option("--max-uses", max_uses, "How many devices may enroll with it")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  enr_create->add_option("--expires-in", enr_expires, "Seconds until expiry")
      ->check(CLI::Range(int64_t{60}, int64_t{365} * 24 * 3600));
  enr_create->callback([&] {
    exit_code =
        rampart::cli::EnrollmentCreate(data_dir, enr_inst, enr_staff, max_uses, enr_expires);
  });

  rampart::detect::ScanOptions scan;
  auto* scan_cmd = app.add_subcommand(
      "scan", "Hunt through access logs (plain, .gz or .xz) with Sigma rules and IoC feeds");
  // One value per occurrence: a vector option would otherwise take the log files after it as
  // more rule directories or feeds.
  scan_cmd
      ->add_option("--rules", scan.rule_dirs,
                   "Sigma rules directory or file (repeatable); given, it replaces the "
                   "bundled rules, so name their directory too to keep them")
      ->allow_extra_args(false)
      ->check(CLI::ExistingPath);
  scan_cmd->add_option("--iocs", scan.ioc_files, "STIX 2.1, MISP JSON or CSV file (repeatable)")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  scan_cmd->add_option("--format", scan.output_format, "Alert output: jsonl or text")
      ->check(CLI::IsMember({"jsonl", "text"}));
  scan_cmd->add_option("--log-format", scan.log_format,
                       "auto, common, combined, epmm, jsonl, or a layout of your own: "
                       "'nginx:<log_format string>' or 'apache:<LogFormat string>'");
  scan_cmd
      ->add_option("--trusted-proxy", scan.trusted_proxies,
                   "Address or CIDR range of a reverse proxy in front of the logging server "
                   "(repeatable): its lines are attributed to the client X-Forwarded-For names")
      ->allow_extra_args(false);
  scan_cmd->add_option("--threads", scan.threads, "Matching threads (0: one per core)")
      ->check(CLI::Range(0u, 64u));
  scan_cmd->add_option("LOGFILE", scan.log_files, "Log files to scan")->required();
  scan_cmd->callback([&] {
    scan.default_rules_dir = BundledRulesDir();
    // Not when the alerts go to the same terminal: they would land on the progress line.
    scan.progress = ::isatty(STDERR_FILENO) != 0 && ::isatty(STDOUT_FILENO) == 0;
    exit_code = rampart::detect::RunScanCommand(scan);
  });

  rampart::detect::RulesCheckOptions rules_check;
  auto* rules = app.add_subcommand("rules", "Detection rules");
  rules->require_subcommand(1);
  auto* check = rules->add_subcommand("check", "Load every rule and say why any is skipped");
  check->add_option("PATH", rules_check.rule_dirs, "Rule directories or files")->required();
  check->callback([&] { exit_code = rampart::detect::RunRulesCheckCommand(rules_check); });

  rampart::server::ConfigCheckOptions config_check;
  config_check.bundled_rules_dir = BundledRulesDir();
  config_check.bundled_playbooks_dir = BundledPlaybooksDir();
  auto* config_cmd = app.add_subcommand("config", "The configuration file");
  config_cmd->require_subcommand(1);
  auto* config_check_cmd = config_cmd->add_subcommand(
      "check",
      "Read a configuration as serve would and try every part of it without starting anything; "
      "exit 1 when serve would not start");
  // A file that cannot be read is the check's first error row, not a usage error.
  config_check_cmd->add_option("--config", config_check.config_file, "YAML configuration file")
      ->required();
  config_check_cmd->add_option(
      "--data", config_check.data_dir,
      "Data directory (also checks the followed files' positions and the integrity baseline)");
  config_check_cmd->add_option("--listen", config_check.listen,
                               "HOST:PORT serve is given with --listen, if any");
  config_check_cmd->add_flag("--strict", config_check.strict,
                             "Exit 1 on warnings too (a rule, feed or playbook left out)");
  config_check_cmd->callback([&] { exit_code = rampart::server::RunConfigCheck(config_check); });

  rampart::cli::AuditOptions audit_opts;
  auto* audit = app.add_subcommand("audit", "Check the keeper's tamper-evident audit log");
  audit->require_subcommand(1);
  auto* audit_verify =
      audit->add_subcommand("verify",
                            "Verify every record and signed checkpoint; exit 1 names "
                            "the first record changed, removed or reordered");
  audit_verify->add_option("--data", audit_opts.data_dir, "Data directory")->required();
  audit_verify->add_option("--public-key", audit_opts.public_key_file,
                           "Checkpoint public key file, 64 hex digits (default: "
                           "DATA/keeper/audit/checkpoint.pub; pass a copy kept elsewhere)");
  audit_verify->callback([&] { exit_code = rampart::cli::AuditVerify(audit_opts); });
  auto* audit_prove = audit->add_subcommand(
      "prove", "Print a record's inclusion proof against the latest signed checkpoint (JSON)");
  audit_prove->add_option("--data", audit_opts.data_dir, "Data directory")->required();
  audit_prove->add_option("--record", audit_opts.record, "Record index")
      ->required()
      ->check(CLI::NonNegativeNumber);
  audit_prove->add_option("--public-key", audit_opts.public_key_file,
                          "Checkpoint public key file (default as for verify)");
  audit_prove->callback([&] { exit_code = rampart::cli::AuditProve(audit_opts); });

  rampart::cli::EvidenceVerifyOptions evidence_opts;
  auto* evidence = app.add_subcommand("evidence", "Check an evidence bundle");
  evidence->require_subcommand(1);
  auto* evidence_verify = evidence->add_subcommand(
      "verify", "Verify a bundle's signature and every file against its manifest");
  evidence_verify->add_option("ARCHIVE", evidence_opts.archive, "The .tar.gz bundle")->required();
  evidence_verify
      ->add_option("--public-key", evidence_opts.public_key_file,
                   "The keeper's checkpoint public key file, 64 hex digits (a copy of "
                   "DATA/keeper/audit/checkpoint.pub kept elsewhere)")
      ->required();
  evidence_verify->callback([&] { exit_code = rampart::cli::EvidenceVerify(evidence_opts); });

  // File integrity and the signed install baseline (docs/operations.md).
  std::string integrity_data, integrity_config;
  auto* integrity = app.add_subcommand("integrity", "File integrity monitoring");
  integrity->require_subcommand(1);
  auto* integrity_baseline = integrity->add_subcommand(
      "baseline", "Re-create the baseline of detection.integrity_paths, listing what it accepts");
  integrity_baseline->add_option("--data", integrity_data, "Data directory")->required();
  integrity_baseline->add_option("--config", integrity_config, "YAML configuration file")
      ->required()
      ->check(CLI::ExistingFile);
  integrity_baseline->callback([&] {
    exit_code = rampart::detect::RunIntegrityBaselineCommand(integrity_data, integrity_config);
  });

  rampart::cli::VerifyInstallOptions verify_install;
  auto* verify_cmd = app.add_subcommand(
      "verify-install",
      "Check binaries, configuration and web root against a signed manifest; exit 0 identical, "
      "1 different, 2 usage error or unusable manifest");
  verify_cmd->add_option("--manifest", verify_install.manifest_file, "Signed manifest file");
  verify_cmd->add_option("--public-key", verify_install.public_key_file,
                         "The manifest signer's public key file (64 hex digits)");
  verify_cmd->add_flag("--create", verify_install.create,
                       "Write a manifest of PATHS signed with --key");
  verify_cmd->add_option("--key", verify_install.key_file,
                         "Signing key (seed) file from --generate-key; never in a data directory");
  verify_cmd->add_option("--generate-key", verify_install.generate_key_file,
                         "Create a signing key file (0600) and print the public key");
  verify_cmd->add_option("PATHS", verify_install.paths, "With --create: files and folders");
  verify_cmd->callback([&] { exit_code = rampart::cli::VerifyInstall(verify_install); });
  rampart::server::BreachDemoOptions breach;
  auto* demo = app.add_subcommand("demo", "Demonstrations against a real server");
  demo->require_subcommand(1);
  auto* breach_cmd = demo->add_subcommand(
      "breach", "The January 30 replay: stand up a server and a fleet, play the 2026 attack");
  breach_cmd->add_option("--data", breach.data_dir,
                         "Data directory for the server (empty or absent; default: temporary)");
  breach_cmd->add_option("--staff", breach.staff, "Staff members across both institutions")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{100000}));
  breach_cmd->add_option("--devices", breach.devices, "Simulated devices across both institutions")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{100000}));
  breach_cmd->add_flag("--json", breach.json, "Print the summary as JSON");
  breach_cmd->add_flag("--keep", breach.keep, "Keep the work directory (logs, temporary data)");
  breach_cmd->add_option("--reports", breach.reports_dir,
                         "Folder for the drafted incident reports (default: reports/ in the work "
                         "directory, or beside --data)");
  breach_cmd->callback([&] { exit_code = rampart::server::RunBreachDemo(breach); });

  if (!rampart::crypto::InitCrypto().ok()) return 1;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // `rampart audit`, `evidence`, `verify-install`, `integrity`, `scan` and `rules` promise
    // scripts exit 2 on a usage error (0 and 1 mean a verdict or an unreadable input).
    if (code != 0 && argc > 1) {
      std::string_view command = argv[1];
      if (command == "audit" || command == "evidence" || command == "verify-install" ||
          command == "integrity" || command == "scan" || command == "rules") {
        return 2;
      }
    }
    return code;
  }
  return exit_code;
}
