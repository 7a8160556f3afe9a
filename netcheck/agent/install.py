"""``netcheck agent install``: the service definition that runs the agent on each OS.

In: the state folder, the command that starts netcheck, the interval and jitter. Out: the text
of a systemd service and timer (hardened: a dynamic unprivileged user, read-only system, no
capabilities, idle I/O and nice 10), a launchd plist (a LaunchDaemon with background priority and
low-priority I/O), or a Windows Task Scheduler XML (the LocalService account, least privilege,
below-normal priority, random delay), and the lines that enable it. Pure: writing the files is
the command's job, and enabling them is the administrator's.
"""

from __future__ import annotations

import plistlib
import shlex
from dataclasses import dataclass
from xml.sax.saxutils import escape

TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
LABEL = "org.netcheck.agent"


@dataclass(frozen=True)
class ServiceFiles:
    files: dict[str, str]  # file name -> content
    enable: list[str]  # what the administrator runs


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def systemd(command: list[str], state: str, every_s: float, jitter_s: float) -> ServiceFiles:
    run = shlex.join([*command, "agent", "run", "--state", state, "--once"])
    service = f"""[Unit]
Description=netcheck agent: measure the official channels' reachability and report it
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart={run}
# an unprivileged user made for the run; the state (key, spool) survives in StateDirectory
DynamicUser=yes
StateDirectory=netcheck-agent
StateDirectoryMode=0700
UMask=0077
Nice=10
IOSchedulingClass=idle
CPUSchedulingPolicy=batch
TimeoutStartSec=30min
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
"""
    timer = f"""[Unit]
Description=Run the netcheck agent every {_minutes(every_s)} minutes

[Timer]
OnBootSec=5min
OnUnitActiveSec={_minutes(every_s)}min
RandomizedDelaySec={_minutes(jitter_s)}min
Persistent=true

[Install]
WantedBy=timers.target
"""
    enroll = shlex.join(
        [
            "systemd-run",
            "--wait",
            "--pty",
            "-p",
            "DynamicUser=yes",
            "-p",
            "StateDirectory=netcheck-agent",
            *command,
            "agent",
            "enroll",
            "--server",
            "URL",
            "--code",
            "CODE",
            "--state",
            state,
        ]
    )
    return ServiceFiles(
        {"netcheck-agent.service": service, "netcheck-agent.timer": timer},
        [
            "sudo cp netcheck-agent.service netcheck-agent.timer /etc/systemd/system/",
            f"sudo {enroll}",
            "sudo systemctl daemon-reload && sudo systemctl enable --now netcheck-agent.timer",
        ],
    )


def launchd(command: list[str], state: str, every_s: float, jitter_s: float) -> ServiceFiles:
    plist = {
        "Label": LABEL,
        "ProgramArguments": [
            *command,
            "agent",
            "run",
            "--state",
            state,
            "--once",
            "--jitter",
            f"{_minutes(jitter_s)}m",
        ],
        "StartInterval": int(every_s),
        "RunAtLoad": True,
        "ProcessType": "Background",
        "LowPriorityIO": True,
        "Nice": 10,
        "UserName": "_netcheck",
        "StandardOutPath": f"{state}/agent.log",
        "StandardErrorPath": f"{state}/agent.log",
    }
    text = plistlib.dumps(plist).decode("utf-8")
    return ServiceFiles(
        {f"{LABEL}.plist": text},
        [
            f"sudo cp {LABEL}.plist /Library/LaunchDaemons/",
            f"sudo -u _netcheck {shlex.join([*command, 'agent', 'enroll'])} --server URL "
            f"--code CODE --state {shlex.quote(state)}",
            f"sudo launchctl bootstrap system /Library/LaunchDaemons/{LABEL}.plist",
        ],
    )


def windows_task(command: list[str], state: str, every_s: float, jitter_s: float) -> ServiceFiles:
    program, *rest = command
    args = " ".join([*rest, "agent", "run", "--state", f'"{state}"', "--once"])
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Task version="1.4" xmlns="{TASK_NS}">
  <RegistrationInfo>
    <Description>netcheck agent: measure the official channels and report</Description>
    <URI>\\netcheck\\agent</URI>
  </RegistrationInfo>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-19</UserId>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Triggers>
    <TimeTrigger>
      <StartBoundary>2026-01-01T00:00:00</StartBoundary>
      <Enabled>true</Enabled>
      <RandomDelay>PT{_minutes(jitter_s)}M</RandomDelay>
      <Repetition>
        <Interval>PT{_minutes(every_s)}M</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
    </TimeTrigger>
  </Triggers>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>true</RunOnlyIfNetworkAvailable>
    <ExecutionTimeLimit>PT30M</ExecutionTimeLimit>
    <Priority>7</Priority>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(program)}</Command>
      <Arguments>{escape(args)}</Arguments>
    </Exec>
  </Actions>
</Task>
"""
    return ServiceFiles(
        {"netcheck-agent.xml": xml},
        [
            'schtasks /Create /TN "netcheck\\agent" /XML netcheck-agent.xml',
            "(enroll first, as the same account: "
            f'{program} {" ".join(rest)} agent enroll --server URL --code CODE --state "{state}")',
        ],
    )
