#include "YumeBridgeTools.h"

#include "YumeBridgeModule.h"
#include "YumeBridgeSession.h"
#include "YumeBridgeSettings.h"

#include "Async/Async.h"
#include "Common/UdpSocketBuilder.h"
#include "Containers/Ticker.h"
#include "HAL/PlatformMisc.h"
#include "HAL/PlatformProcess.h"
#include "HAL/PlatformTime.h"
#include "Interfaces/IPv4/IPv4Address.h"
#include "Interfaces/IPv4/IPv4Endpoint.h"
#include "SocketSubsystem.h"
#include "Sockets.h"

namespace
{
	FString FromUtf8(const std::string& Text)
	{
		return FString(UTF8_TO_TCHAR(Text.c_str()));
	}

	FYumeBridgeDaemon ToDaemon(const yumebridge::dnssd::Service& Service)
	{
		FYumeBridgeDaemon Daemon;
		Daemon.Name = FromUtf8(Service.label());
		Daemon.Port = Service.port;
		for (const bool bWantIPv4 : {true, false})  // IPv4 first, as Connect tries them
		{
			for (const std::string& Address : Service.addresses)
			{
				if ((Address.find(':') == std::string::npos) == bWantIPv4)
				{
					Daemon.Addresses.Add(FromUtf8(Address));
				}
			}
		}
		FString HostName = FromUtf8(Service.host);
		HostName.RemoveFromEnd(TEXT("."));
		Daemon.Host = Daemon.Addresses.Num() > 0 ? Daemon.Addresses[0] : HostName;
		for (const auto& Property : Service.properties)
		{
			Daemon.Properties.Add(FromUtf8(Property.first), Property.second ? FromUtf8(*Property.second) : FString());
		}
		const std::optional<std::string> Token = Service.property("token");
		Daemon.bNeedsToken = Token.has_value() && *Token == "required";
		const std::optional<std::string> Free = Service.property("free");
		if (Free.has_value() && !Free->empty() && Free->find_first_not_of("0123456789") == std::string::npos && Free->size() < 6)
		{
			Daemon.FreeSessions = std::stoi(*Free);
			Daemon.bFull = Daemon.FreeSessions == 0;
		}
		return Daemon;
	}

	// Runs on a worker thread: a few queries over Seconds, every answer collected.
	TArray<FYumeBridgeDaemon> Browse(float Seconds)
	{
		TArray<FYumeBridgeDaemon> Found;
		ISocketSubsystem* Sockets = ISocketSubsystem::Get(PLATFORM_SOCKETSUBSYSTEM);
		const yumebridge::Result<yumebridge::Bytes> Query = yumebridge::dnssd::build_query();
		if (Sockets == nullptr || !Query.ok())
		{
			return Found;
		}
		// From an ephemeral port, so responders answer this socket directly (RFC 6762 §6.7).
		FSocket* Socket = FUdpSocketBuilder(TEXT("YumeBridgeDiscovery"))
			.AsNonBlocking()
			.BoundToPort(0)
			.WithMulticastLoopback()
			.WithMulticastTtl(255)
			.WithReceiveBufferSize(256 * 1024)
			.Build();
		if (Socket == nullptr)
		{
			UE_LOG(LogYumeBridge, Warning, TEXT("Find Yume Bridge Daemons: cannot open a UDP socket."));
			return Found;
		}
		const FIPv4Endpoint Group(FIPv4Address(224, 0, 0, 251), yumebridge::dnssd::kPort);
		const FIPv4Endpoint ThisMachine(FIPv4Address(127, 0, 0, 1), yumebridge::dnssd::kPort);
		const TSharedRef<FInternetAddr> GroupAddress = Group.ToInternetAddr();
		const TSharedRef<FInternetAddr> LocalAddress = ThisMachine.ToInternetAddr();
		const TSharedRef<FInternetAddr> From = Sockets->CreateInternetAddr();
		yumebridge::dnssd::ServiceCollector Collector;
		TArray<uint8> Buffer;
		Buffer.SetNumUninitialized(static_cast<int32>(yumebridge::dnssd::kMaxMessage));
		const double Deadline = FPlatformTime::Seconds() + FMath::Max(0.2f, Seconds);
		double NextQuery = 0.0;
		double Interval = 0.25;
		while (FPlatformTime::Seconds() < Deadline)
		{
			if (FPlatformTime::Seconds() >= NextQuery)
			{
				int32 Sent = 0;
				const int32 Size = static_cast<int32>(Query.value().size());
				Socket->SendTo(Query.value().data(), Size, Sent, *GroupAddress);
				Socket->SendTo(Query.value().data(), Size, Sent, *LocalAddress);
				NextQuery = FPlatformTime::Seconds() + Interval;
				Interval *= 2.0;  // RFC 6762 §5.2: intervals at least double
			}
			Socket->Wait(ESocketWaitConditions::WaitForRead, FTimespan::FromMilliseconds(50.0));
			int32 Read = 0;
			while (Socket->RecvFrom(Buffer.GetData(), Buffer.Num(), Read, *From))
			{
				const yumebridge::Result<yumebridge::dnssd::Message> Message =
					yumebridge::dnssd::parse_message(yumebridge::ByteView(Buffer.GetData(), static_cast<std::size_t>(Read)));
				if (Message.ok())
				{
					Collector.add(Message.value());  // malformed packets from the network are dropped
				}
			}
		}
		Socket->Close();
		Sockets->DestroySocket(Socket);
		for (const yumebridge::dnssd::Service& Service : Collector.services())
		{
			Found.Add(ToDaemon(Service));
		}
		// The one with the most free session slots first (those that do not say, after those that do).
		Found.StableSort([](const FYumeBridgeDaemon& A, const FYumeBridgeDaemon& B) { return A.FreeSessions > B.FreeSessions; });
		return Found;
	}
}

void FYumeBridgeTools::FindDaemons(float Seconds, TFunction<void(const TArray<FYumeBridgeDaemon>&)> OnDone)
{
	Async(EAsyncExecution::Thread, [Seconds, OnDone = MoveTemp(OnDone)]() mutable
	{
		TArray<FYumeBridgeDaemon> Found = Browse(Seconds);
		UE_LOG(LogYumeBridge, Log, TEXT("Find Yume Bridge Daemons: %d found."), Found.Num());
		AsyncTask(ENamedThreads::GameThread, [Found = MoveTemp(Found), OnDone = MoveTemp(OnDone)]()
		{
			OnDone(Found);
		});
	});
}

void FYumeBridgeTools::TestConnection(const FString& Host, int32 Port, const FString& Token,
	TFunction<void(bool bOk, const FString& Message)> OnDone)
{
	const UYumeBridgeSettings* Settings = UYumeBridgeSettings::Get();
	FYumeBridgeConnectOptions Options;
	Options.Host = Host.IsEmpty() ? Settings->DefaultHost : Host;
	Options.Port = Port > 0 ? Port : Settings->DefaultPort;
	Options.Token = !Token.IsEmpty() ? Token : FPlatformMisc::GetEnvironmentVariable(TEXT("YUME_BRIDGE_TOKEN"));
	if (Options.Token.IsEmpty())
	{
		Options.Token = UYumeBridgeUserSettings::Get()->Token;
	}
	Options.bRequireAuthentication = Settings->bRequireAuthentication;
	Options.bUseJson = Settings->bUseJson;
	Options.EngineName = TEXT("Unreal Editor (connection test)");
	TSharedPtr<FYumeBridgeSession, ESPMode::ThreadSafe> Probe = MakeShared<FYumeBridgeSession, ESPMode::ThreadSafe>(Options);
	FString Error;
	if (!Probe->Launch(Error))
	{
		OnDone(false, Error);
		return;
	}
	// Polled from the core ticker on the game thread; the handshake's own timeout ends a silent wait.
	FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateLambda(
		[Probe, Options, OnDone = MoveTemp(OnDone)](float) -> bool
		{
			FYumeBridgeSessionEvent Event;
			while (Probe->PollEvent(Event))
			{
				if (Event.Kind == FYumeBridgeSessionEvent::EKind::Connected)
				{
					Probe->Shutdown(true);
					const FYumeBridgeSessionInfo& Info = Event.Info;
					OnDone(true, FString::Printf(TEXT("Connected to yume_bridge %s at %s:%d: %s/%s, %dx%d at %.0f fps%s."),
						*Info.DaemonVersion, *Options.Host, Options.Port, *Info.Backend, *Info.Model, Info.Width,
						Info.Height, Info.Fps, Info.bAuthenticated ? TEXT(", authenticated") : TEXT("")));
					return false;
				}
				if (Event.Kind == FYumeBridgeSessionEvent::EKind::Closed)
				{
					Probe->Shutdown(false);
					const FTCHARToUTF8 HostUtf8(*Options.Host);
					const yumebridge::Diagnosis Diagnosis = yumebridge::diagnose(Event.CoreCode,
						std::string(HostUtf8.Get(), static_cast<std::size_t>(HostUtf8.Length())), Options.Port);
					OnDone(false, FString::Printf(TEXT("%s %s"), *FromUtf8(Diagnosis.summary), *FromUtf8(Diagnosis.fix)));
					return false;
				}
			}
			return true;
		}), 0.05f);
}

UYumeBridgeFindDaemons* UYumeBridgeFindDaemons::FindYumeBridgeDaemons(float InSeconds)
{
	UYumeBridgeFindDaemons* Action = NewObject<UYumeBridgeFindDaemons>();
	Action->Seconds = InSeconds;
	return Action;
}

void UYumeBridgeFindDaemons::Activate()
{
	// Kept alive until the answer: the node owns no other reference to itself.
	AddToRoot();
	TWeakObjectPtr<UYumeBridgeFindDaemons> WeakThis(this);
	FYumeBridgeTools::FindDaemons(Seconds, [WeakThis](const TArray<FYumeBridgeDaemon>& Daemons)
	{
		if (UYumeBridgeFindDaemons* Action = WeakThis.Get())
		{
			Action->OnFound.Broadcast(Daemons);
			Action->RemoveFromRoot();
			Action->SetReadyToDestroy();
		}
	});
}
