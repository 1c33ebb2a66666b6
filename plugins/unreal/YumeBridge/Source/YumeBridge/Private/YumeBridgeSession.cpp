#include "YumeBridgeSession.h"

#include "YumeBridgeModule.h"

#include "Common/UdpSocketBuilder.h"
#include "HAL/Event.h"
#include "HAL/PlatformProcess.h"
#include "HAL/PlatformTime.h"
#include "HAL/RunnableThread.h"
#include "IImageWrapper.h"
#include "IImageWrapperModule.h"
#include "Interfaces/IPv4/IPv4Address.h"
#include "Interfaces/IPv4/IPv4Endpoint.h"
#include "Misc/Guid.h"
#include "Misc/ScopeLock.h"
#include "Modules/ModuleManager.h"
#include "SocketSubsystem.h"
#include "Sockets.h"

namespace
{
	constexpr int64 MaxWaitMicroseconds = 20000;  // the network thread notices Stop within this

	yumebridge::ClientConfig MakeCoreConfig(const FYumeBridgeConnectOptions& Options)
	{
		yumebridge::ClientConfig Config;
		Config.client_name = "yume-bridge-unreal";
		Config.client_version = "0.1.0";
		const FTCHARToUTF8 Engine(*Options.EngineName);
		Config.engine = std::string(Engine.Get(), Engine.Length());
		const FTCHARToUTF8 Token(*Options.Token);
		Config.token = std::string(Token.Get(), Token.Length());
		Config.require_authentication = Options.bRequireAuthentication;
		Config.encoding = Options.bUseJson ? yumebridge::Encoding::Json : yumebridge::Encoding::MsgPack;
		Config.width = Options.Width;
		Config.height = Options.Height;
		Config.fps = Options.Fps;
		Config.quality = Options.Quality;
		Config.max_datagram = Options.MaxDatagram;
		Config.max_playout_delay = static_cast<yumebridge::Time>(Options.MaxPlayoutDelay * 1e6f);
		return Config;
	}
}

// ============================================================================================
// FYumeBridgeFrameDecoder
// ============================================================================================

FYumeBridgeFrameDecoder::FYumeBridgeFrameDecoder(IImageWrapperModule& InImageWrapperModule)
	: ImageWrapperModule(InImageWrapperModule)
{
}

FYumeBridgeFrameDecoder::~FYumeBridgeFrameDecoder()
{
	Shutdown();
}

bool FYumeBridgeFrameDecoder::Launch()
{
	WorkEvent = FPlatformProcess::GetSynchEventFromPool(false);
	Thread = FRunnableThread::Create(this, TEXT("YumeBridgeDecoder"), 0, TPri_Normal);
	return Thread != nullptr;
}

void FYumeBridgeFrameDecoder::Shutdown()
{
	if (Thread != nullptr)
	{
		Thread->Kill(true);  // calls Stop(), then waits for Run() to return
		delete Thread;
		Thread = nullptr;
	}
	if (WorkEvent != nullptr)
	{
		FPlatformProcess::ReturnSynchEventToPool(WorkEvent);
		WorkEvent = nullptr;
	}
}

void FYumeBridgeFrameDecoder::Submit(const uint8* Jpeg, int32 Size, const FYumeBridgeFrameInfo& Info)
{
	{
		FScopeLock ScopeLock(&Lock);
		FPendingJpeg& Slot = Jpegs.push();  // when the decoder is this far behind, the oldest is dropped
		Slot.Jpeg.Reset();  // keeps its capacity
		Slot.Jpeg.Append(Jpeg, Size);
		Slot.Info = Info;
	}
	if (WorkEvent != nullptr)
	{
		WorkEvent->Trigger();
	}
}

bool FYumeBridgeFrameDecoder::TakeDecoded(FYumeBridgeDecodedFrame& Out)
{
	FScopeLock ScopeLock(&Lock);
	// A swap, not a copy: the caller's previous buffer comes back to the decoder.
	if (!Decoded.take_to_show(Out))
	{
		return false;
	}
	Out.Info.FramesSkipped += static_cast<int64>(Jpegs.dropped() + Decoded.dropped());
	return true;
}

void FYumeBridgeFrameDecoder::Stop()
{
	bStopping = true;
	if (WorkEvent != nullptr)
	{
		WorkEvent->Trigger();
	}
}

uint32 FYumeBridgeFrameDecoder::Run()
{
	// One wrapper for the thread's lifetime: the wrapper object is not re-created per frame.
	const TSharedPtr<IImageWrapper> Wrapper = ImageWrapperModule.CreateImageWrapper(EImageFormat::JPEG);
	TArray64<uint8> Pixels;
	while (!bStopping)
	{
		bool bTaken = false;
		{
			FScopeLock ScopeLock(&Lock);
			bTaken = Jpegs.take_oldest(Work);  // a swap: both buffers keep their capacity
		}
		if (!bTaken)
		{
			WorkEvent->Wait(100);  // frames submitted together are all taken before the next wait
			continue;
		}
		const double Started = FPlatformTime::Seconds();
		if (!Wrapper.IsValid() || !Wrapper->SetCompressed(Work.Jpeg.GetData(), Work.Jpeg.Num()) ||
			!Wrapper->GetRaw(ERGBFormat::BGRA, 8, Pixels))
		{
			if (++Failures <= 5)
			{
				UE_LOG(LogYumeBridge, Warning, TEXT("Frame %lld is not a decodable JPEG (%d bytes); it is skipped."),
					Work.Info.Frame, Work.Jpeg.Num());
			}
			continue;
		}
		const int32 Width = static_cast<int32>(Wrapper->GetWidth());
		const int32 Height = static_cast<int32>(Wrapper->GetHeight());
		if (Width <= 0 || Height <= 0 || Pixels.Num() != static_cast<int64>(Width) * Height * 4)
		{
			continue;
		}
		const float DecodeMs = static_cast<float>((FPlatformTime::Seconds() - Started) * 1000.0);
		FScopeLock ScopeLock(&Lock);
		FYumeBridgeDecodedFrame& Slot = Decoded.push();  // when the game thread is this far behind, the oldest is dropped
		Swap(Slot.Pixels, Pixels);  // the slot's previous buffer becomes the next work buffer
		Slot.Width = Width;
		Slot.Height = Height;
		Slot.Info = Work.Info;
		Slot.Info.DecodeMs = DecodeMs;
	}
	return 0;
}

// ============================================================================================
// FYumeBridgeSession
// ============================================================================================

FYumeBridgeSession::FYumeBridgeSession(const FYumeBridgeConnectOptions& InOptions)
	: Options(InOptions)
	, Core(MakeCoreConfig(InOptions))
{
	ReceiveBuffer.SetNumUninitialized(65536);
}

FYumeBridgeSession::~FYumeBridgeSession()
{
	Shutdown(true);
}

int64 FYumeBridgeSession::NowMicroseconds()
{
	return static_cast<int64>(FPlatformTime::Seconds() * 1000000.0);
}

std::string FYumeBridgeSession::ToUtf8(const FString& Text)
{
	const FTCHARToUTF8 Converted(*Text);
	return std::string(Converted.Get(), Converted.Length());
}

FString FYumeBridgeSession::FromUtf8(const std::string& Text)
{
	return FString(UTF8_TO_TCHAR(Text.c_str()));
}

bool FYumeBridgeSession::Launch(FString& OutError)
{
	IImageWrapperModule* ImageWrapperModule = FModuleManager::GetModulePtr<IImageWrapperModule>(TEXT("ImageWrapper"));
	if (ImageWrapperModule == nullptr)
	{
		ImageWrapperModule = &FModuleManager::LoadModuleChecked<IImageWrapperModule>(TEXT("ImageWrapper"));
	}
	Decoder = MakeUnique<FYumeBridgeFrameDecoder>(*ImageWrapperModule);
	if (!Decoder->Launch())
	{
		OutError = TEXT("cannot start the JPEG decoder thread");
		return false;
	}

	{
		// The hello waits in the core until the network thread has a socket; requests made from now
		// on are kept by the core and sent once the session is open.
		FScopeLock Lock(&CoreLock);
		const yumebridge::VoidResult Started = Core.connect(NowMicroseconds(), MakeNonce());
		if (!Started)
		{
			OutError = FromUtf8(Started.error().detail);
			return false;
		}
	}
	Thread = FRunnableThread::Create(this, TEXT("YumeBridgeNetwork"), 0, TPri_AboveNormal);
	if (Thread == nullptr)
	{
		OutError = TEXT("cannot start the network thread");
		return false;
	}
	return true;
}

yumebridge::Nonce FYumeBridgeSession::MakeNonce()
{
	// A fresh random nonce per connection attempt (SPEC §5.1).
	const FGuid Guid = FGuid::NewGuid();
	yumebridge::Nonce NonceBytes{};
	const uint32 Words[4] = {Guid.A, Guid.B, Guid.C, Guid.D};
	for (int32 Index = 0; Index < 16; ++Index)
	{
		NonceBytes[Index] = static_cast<uint8>((Words[Index / 4] >> (8 * (Index % 4))) & 0xFF);
	}
	return NonceBytes;
}

void FYumeBridgeSession::Shutdown(bool bSayBye)
{
	if (bShutDown)
	{
		return;
	}
	bShutDown = true;
	{
		FScopeLock Lock(&CoreLock);
		if (bSayBye && Core.connected())
		{
			Core.close(NowMicroseconds(), "client");
			FlushLocked();
		}
	}
	if (Thread != nullptr)
	{
		Thread->Kill(true);
		delete Thread;
		Thread = nullptr;
	}
	if (Decoder.IsValid())
	{
		Decoder->Shutdown();
	}
	FScopeLock Lock(&CoreLock);
	if (Socket != nullptr)
	{
		Socket->Close();
		SocketSubsystem->DestroySocket(Socket);
		Socket = nullptr;
	}
}

void FYumeBridgeSession::Stop()
{
	bStopping = true;
}

bool FYumeBridgeSession::ResolveCandidates(FString& OutError)
{
	SocketSubsystem = ISocketSubsystem::Get(PLATFORM_SOCKETSUBSYSTEM);
	if (SocketSubsystem == nullptr)
	{
		OutError = TEXT("no socket subsystem on this platform");
		return false;
	}
	// Resolve on this thread: a DNS lookup must never stall the game thread.
	const FAddressInfoResult Resolved = SocketSubsystem->GetAddressInfo(*Options.Host, nullptr,
		EAddressInfoFlags::Default, NAME_None, ESocketType::SOCKTYPE_Datagram);
	if (Resolved.ReturnCode != SE_NO_ERROR || Resolved.Results.Num() == 0)
	{
		OutError = FString::Printf(TEXT("cannot resolve the daemon's host '%s'"), *Options.Host);
		return false;
	}
	// IPv4 first: `localhost` often resolves to ::1 before 127.0.0.1, while the daemon binds
	// 127.0.0.1 by default. Within a family the resolver's order is kept.
	Candidates.Reset();
	for (const bool bWantIPv4 : {true, false})
	{
		for (const FAddressInfoResultData& Result : Resolved.Results)
		{
			if ((Result.Address->GetProtocolType() == FNetworkProtocolTypes::IPv4) == bWantIPv4)
			{
				TSharedPtr<FInternetAddr> Candidate = Result.Address->Clone();
				Candidate->SetPort(Options.Port);
				Candidates.Add(Candidate);
			}
		}
	}
	CandidateIndex = 0;
	return true;
}

bool FYumeBridgeSession::OpenSocketForCandidate(FString& OutError)
{
	const TSharedPtr<FInternetAddr> Next = Candidates[CandidateIndex];
	const bool bSameFamily = Socket != nullptr && DaemonAddress.IsValid() &&
		DaemonAddress->GetProtocolType() == Next->GetProtocolType();
	if (bSameFamily)
	{
		FScopeLock Lock(&CoreLock);
		DaemonAddress = Next;
		return true;
	}
	FSocket* NewSocket = nullptr;
	if (Next->GetProtocolType() == FNetworkProtocolTypes::IPv4)
	{
		NewSocket = FUdpSocketBuilder(TEXT("YumeBridge"))
			.AsNonBlocking()
			.BoundToPort(0)
			.WithReceiveBufferSize(Options.ReceiveBufferBytes)
			.WithSendBufferSize(1024 * 1024)
			.Build();
	}
	else
	{
		// FUdpSocketBuilder only binds IPv4 endpoints; an IPv6 daemon gets a socket of its family.
		NewSocket = SocketSubsystem->CreateSocket(NAME_DGram, TEXT("YumeBridge"), Next->GetProtocolType());
		if (NewSocket != nullptr)
		{
			int32 ActualSize = 0;
			NewSocket->SetNonBlocking(true);
			NewSocket->SetReceiveBufferSize(Options.ReceiveBufferBytes, ActualSize);
		}
	}
	if (NewSocket == nullptr)
	{
		OutError = TEXT("cannot create a UDP socket");
		return false;
	}
	FScopeLock Lock(&CoreLock);
	if (Socket != nullptr)
	{
		Socket->Close();
		SocketSubsystem->DestroySocket(Socket);
	}
	Socket = NewSocket;
	DaemonAddress = Next;
	SenderAddress = SocketSubsystem->CreateInternetAddr(Next->GetProtocolType());
	return true;
}

bool FYumeBridgeSession::TryNextCandidate(const TCHAR* Why)
{
	if (CandidateIndex + 1 >= Candidates.Num())
	{
		return false;
	}
	++CandidateIndex;
	bPortUnreachable = false;
	UE_LOG(LogYumeBridge, Log, TEXT("%s at %s: trying the next address of %s (%d of %d)."), Why,
		*Candidates[CandidateIndex - 1]->ToString(true), *Options.Host, CandidateIndex + 1, Candidates.Num());
	FString Error;
	return OpenSocketForCandidate(Error);
}

void FYumeBridgeSession::ReportError(const FString& Code, const FString& Message, const FString& Context)
{
	FYumeBridgeSessionEvent Event;
	Event.Kind = FYumeBridgeSessionEvent::EKind::Error;
	Event.Code = Code;
	Event.Message = Message;
	Event.Context = Context;
	Event.First = -1;
	Events.Enqueue(MoveTemp(Event));
}

void FYumeBridgeSession::PushClosed(yumebridge::ErrorCode Code, const FString& Message)
{
	FYumeBridgeSessionEvent Event;
	Event.Kind = FYumeBridgeSessionEvent::EKind::Closed;
	Event.Code = FromUtf8(yumebridge::error_code_name(Code));
	Event.CoreCode = Code;
	Event.Message = Message;
	Event.bFlag = true;
	Events.Enqueue(MoveTemp(Event));
}

uint32 FYumeBridgeSession::Run()
{
	FString Error;
	if (!ResolveCandidates(Error) || !OpenSocketForCandidate(Error))
	{
		UE_LOG(LogYumeBridge, Error, TEXT("Cannot connect to the yume_bridge daemon at %s:%d: %s."), *Options.Host,
			Options.Port, *Error);
		PushClosed(yumebridge::ErrorCode::DaemonUnreachable, Error);
		return 1;
	}
	while (!bStopping)
	{
		int64 WaitMicroseconds = MaxWaitMicroseconds;
		{
			FScopeLock Lock(&CoreLock);
			FlushLocked();  // the hello, and anything requested before the socket existed
			const std::optional<yumebridge::Time> Timer = Core.get_timer();
			if (Timer)
			{
				WaitMicroseconds = FMath::Clamp<int64>(*Timer - NowMicroseconds(), 0, MaxWaitMicroseconds);
			}
		}
		if (WaitMicroseconds > 0)
		{
			Socket->Wait(ESocketWaitConditions::WaitForRead, FTimespan::FromMicroseconds(static_cast<double>(WaitMicroseconds)));
		}
		FScopeLock Lock(&CoreLock);
		ReceiveAllLocked(NowMicroseconds());
		if (bPortUnreachable && Core.state() == yumebridge::ConnectionState::Handshaking)
		{
			// Nothing listens at this address: the hello goes on to the next one at once. (CoreLock
			// is held; the switch takes it again, which FCriticalSection, a recursive lock, allows.)
			TryNextCandidate(TEXT("Port unreachable"));
		}
		const int64 Now = NowMicroseconds();
		const std::optional<yumebridge::Time> Timer = Core.get_timer();
		if (Timer && *Timer <= Now)
		{
			Core.handle_timer(Now);
		}
		FlushLocked();
		DrainLocked();
		if (Core.state() == yumebridge::ConnectionState::Closed)
		{
			break;  // the Closed event is queued; the game thread ends the session
		}
	}
	return 0;
}

void FYumeBridgeSession::ReceiveAllLocked(int64 Now)
{
	// Bounded, so that a flood cannot keep the lock forever; the rest is read on the next round.
	for (int32 Count = 0; Count < 4096; ++Count)
	{
		int32 BytesRead = 0;
		if (!Socket->RecvFrom(ReceiveBuffer.GetData(), ReceiveBuffer.Num(), BytesRead, *SenderAddress))
		{
			const ESocketErrors Error = SocketSubsystem->GetLastErrorCode();
			if (Error == SE_ECONNRESET || Error == SE_ECONNREFUSED)
			{
				bPortUnreachable = true;  // ICMP port unreachable: nothing listens there (yet)
				continue;
			}
			return;  // SE_EWOULDBLOCK: nothing more to read
		}
		if (!SenderAddress->CompareEndpoints(*DaemonAddress))
		{
			continue;  // only the daemon speaks in this session (SPEC §10)
		}
		Core.receive_datagram(yumebridge::ByteView(ReceiveBuffer.GetData(), static_cast<std::size_t>(BytesRead)), Now);
	}
}

void FYumeBridgeSession::FlushLocked()
{
	if (Socket == nullptr)
	{
		return;  // the datagrams stay in the core until the network thread has opened the socket
	}
	for (const yumebridge::Bytes& Datagram : Core.datagrams_to_send())
	{
		int32 BytesSent = 0;
		Socket->SendTo(Datagram.data(), static_cast<int32>(Datagram.size()), BytesSent, *DaemonAddress);
	}
}

void FYumeBridgeSession::DrainLocked()
{
	while (std::optional<yumebridge::ClientEvent> Next = Core.next_event())
	{
		FYumeBridgeSessionEvent Event;
		if (const auto* Connected = std::get_if<yumebridge::ev::Connected>(&*Next))
		{
			const yumebridge::msg::Welcome& Welcome = Connected->welcome;
			Event.Kind = FYumeBridgeSessionEvent::EKind::Connected;
			FYumeBridgeSessionInfo& Info = Event.Info;
			Info.Session = Welcome.session;
			Info.DaemonVersion = FromUtf8(Welcome.daemon_version);
			Info.Backend = FromUtf8(Welcome.backend);
			Info.Model = FromUtf8(Welcome.model);
			Info.ModelVersion = FromUtf8(Welcome.model_version);
			Info.Width = static_cast<int32>(Welcome.width);
			Info.Height = static_cast<int32>(Welcome.height);
			Info.Fps = static_cast<float>(Welcome.fps);
			Info.FramesPerChunk = static_cast<int32>(Welcome.frames_per_chunk);
			Info.bAuthenticated = Core.authenticated();
			Info.VocabularyName = FromUtf8(Welcome.vocabulary.name);
			Info.VocabularyVersion = FromUtf8(Welcome.vocabulary.version);
			Info.MaxEventChars = static_cast<int32>(Welcome.limits.max_event_chars);
			Info.MaxPromptChars = static_cast<int32>(Welcome.limits.max_prompt_chars);
			for (const std::string& Capability : Welcome.capabilities)
			{
				Info.Capabilities.Add(FromUtf8(Capability));
			}
			Movement.Reset();
			Look.Reset();
			for (const std::string& Symbol : Welcome.vocabulary.movement)
			{
				Movement.Add(FromUtf8(Symbol));
			}
			for (const std::string& Symbol : Welcome.vocabulary.look)
			{
				Look.Add(FromUtf8(Symbol));
			}
		}
		else if (const auto* Progress = std::get_if<yumebridge::ev::UploadProgress>(&*Next))
		{
			Event.Kind = FYumeBridgeSessionEvent::EKind::UploadProgress;
			Event.First = Progress->received;
			Event.Second = Progress->size;
		}
		else if (std::get_if<yumebridge::ev::UploadComplete>(&*Next) != nullptr)
		{
			Event.Kind = FYumeBridgeSessionEvent::EKind::UploadComplete;
		}
		else if (const auto* Started = std::get_if<yumebridge::ev::Started>(&*Next))
		{
			Event.Kind = FYumeBridgeSessionEvent::EKind::Started;
			Event.First = Started->world;
			Event.Second = Started->seed;
			Event.bFlag = Started->inferred;
			Event.Context = FromUtf8(Started->source);
		}
		else if (const auto* Ack = std::get_if<yumebridge::ev::EventAcknowledged>(&*Next))
		{
			Event.Kind = FYumeBridgeSessionEvent::EKind::EventAcknowledged;
			Event.First = Ack->id;
			Event.Second = Ack->chunk;
			for (const uint32 Id : Ack->active)
			{
				Event.ActiveEvents.Add(static_cast<int32>(Id));
			}
		}
		else if (const auto* Report = std::get_if<yumebridge::ev::StatusReport>(&*Next))
		{
			const yumebridge::msg::Status& S = Report->status;
			Event.Kind = FYumeBridgeSessionEvent::EKind::Status;
			FYumeBridgeStatus& Status = Event.Status;
			Status.State = FromUtf8(S.state);
			Status.Progress = static_cast<float>(S.progress);
			Status.bReady = S.state == "generating";
			Status.World = S.world;
			Status.Chunk = S.chunk;
			Status.Queue = static_cast<int32>(S.queue);
			Status.SentFps = static_cast<float>(S.fps);
			Status.FramesSent = S.frames_sent;
			Status.Action = static_cast<int32>(S.action);
			Status.InputSeq = S.input_seq;
			Status.QueueMs = static_cast<float>(S.latency.queue_ms);
			Status.GenerateMs = static_cast<float>(S.latency.generate_ms);
			Status.EncodeMs = static_cast<float>(S.latency.encode_ms);
			Status.SendMs = static_cast<float>(S.latency.send_ms);
			const std::optional<yumebridge::Time> Rtt = Core.smoothed_rtt();
			Status.RoundTripMs = Rtt ? static_cast<float>(*Rtt) / 1000.f : -1.f;
			Status.Message = FromUtf8(S.message);
		}
		else if (const auto* RoundTrip = std::get_if<yumebridge::ev::RoundTrip>(&*Next))
		{
			Event.Kind = FYumeBridgeSessionEvent::EKind::RoundTrip;
			Event.Milliseconds = static_cast<float>(RoundTrip->smoothed) / 1000.f;
		}
		else if (const auto* Error = std::get_if<yumebridge::ev::Error>(&*Next))
		{
			Event.Kind = FYumeBridgeSessionEvent::EKind::Error;
			Event.Code = FromUtf8(Error->code_name);
			Event.Message = FromUtf8(Error->message);
			Event.Context = FromUtf8(yumebridge::error_context_name(Error->context));
			Event.First = Error->event_id ? static_cast<int64>(*Error->event_id) : -1;
		}
		else if (const auto* Unanswered = std::get_if<yumebridge::ev::Closed>(&*Next);
			Unanswered != nullptr && Unanswered->code == yumebridge::ErrorCode::DaemonUnreachable &&
			CandidateIndex + 1 < Candidates.Num())
		{
			// No answer at this address within the handshake time: start again at the next one.
			// (CoreLock is held; the socket switch takes it again, which FCriticalSection allows.)
			if (TryNextCandidate(TEXT("No answer")) && Core.connect(NowMicroseconds(), MakeNonce()))
			{
				continue;
			}
			PushClosed(yumebridge::ErrorCode::DaemonUnreachable, FromUtf8(Unanswered->message));
			continue;
		}
		else if (const auto* Closed = std::get_if<yumebridge::ev::Closed>(&*Next))
		{
			Event.Kind = FYumeBridgeSessionEvent::EKind::Closed;
			Event.Code = FromUtf8(yumebridge::error_code_name(Closed->code));
			Event.CoreCode = Closed->code;
			Event.Message = FromUtf8(Closed->message);
			Event.bFlag = Closed->code != yumebridge::ErrorCode::Ok;
			if (Closed->code == yumebridge::ErrorCode::DaemonUnreachable && bPortUnreachable)
			{
				Event.Message += TEXT(" (the host answered 'port unreachable': nothing listens on that port)");
			}
		}
		Events.Enqueue(MoveTemp(Event));
	}

	while (std::optional<yumebridge::Connection::ReceivedFrame> Received = Core.take_frame())
	{
		const yumebridge::FrameHeader& Header = Received->frame.header;
		FYumeBridgeFrameInfo Info;
		Info.Frame = Header.frame;
		Info.Chunk = Header.chunk;
		Info.FrameInChunk = Header.frame_in_chunk;
		Info.Action = Header.action;
		const int32 MovementId = Header.action / 9;
		const int32 LookId = Header.action % 9;
		Info.Movement = Movement.IsValidIndex(MovementId) ? Movement[MovementId] : FString::FromInt(MovementId);
		Info.Look = Look.IsValidIndex(LookId) ? Look[LookId] : FString::FromInt(LookId);
		Info.InputSeq = Header.input_seq;
		Info.InputToFrameMs = Received->input_latency ? static_cast<float>(*Received->input_latency) / 1000.f : -1.f;
		Info.FramesSkipped = static_cast<int64>(Core.frames_replaced());
		Info.Latent = Header.latent;
		Info.bAfterCut = Header.after_cut();
		Info.CutLatents = Header.after_cut() ? Header.cut_latents : 0;
		ChunksCut += Header.after_cut() ? 1 : 0;
		Info.ChunksCut = ChunksCut;
		const yumebridge::Bytes& Jpeg = Received->frame.jpeg;
		Decoder->Submit(Jpeg.data(), static_cast<int32>(Jpeg.size()), Info);
	}
}

// ---- requests from the game thread ----

void FYumeBridgeSession::SetInput(const FVector2D& Move, const FVector2D& LookAxes, const TArray<FString>& Keys)
{
	yumebridge::InputState Input;
	Input.move = {static_cast<double>(Move.X), static_cast<double>(Move.Y)};
	Input.look = {static_cast<double>(LookAxes.X), static_cast<double>(LookAxes.Y)};
	for (const FString& Key : Keys)
	{
		Input.keys.push_back(ToUtf8(Key));
	}
	FScopeLock Lock(&CoreLock);
	Core.set_input(NowMicroseconds(), std::move(Input));
	FlushLocked();
}

bool FYumeBridgeSession::SendEvent(const FString& Text, int32& OutId, FString& OutError)
{
	FScopeLock Lock(&CoreLock);
	const yumebridge::Result<uint32> Sent = Core.send_event(NowMicroseconds(), ToUtf8(Text));
	if (!Sent)
	{
		OutError = FromUtf8(Sent.error().detail);
		return false;
	}
	OutId = static_cast<int32>(Sent.value());
	FlushLocked();
	return true;
}

bool FYumeBridgeSession::SetEvent(int32 Id, const FString& Text, FString& OutError)
{
	if (Id <= 0)
	{
		OutError = TEXT("event ids are positive");
		return false;
	}
	FScopeLock Lock(&CoreLock);
	const yumebridge::VoidResult Sent = Core.set_event(NowMicroseconds(), static_cast<uint32>(Id), ToUtf8(Text));
	if (!Sent)
	{
		OutError = FromUtf8(Sent.error().detail);
		return false;
	}
	FlushLocked();
	return true;
}

bool FYumeBridgeSession::StartFromImage(TArray<uint8>&& FileBytes, const FString& Prompt, TOptional<uint32> Seed, FString& OutError)
{
	yumebridge::Bytes Bytes(FileBytes.GetData(), FileBytes.GetData() + FileBytes.Num());
	FileBytes.Empty();
	FScopeLock Lock(&CoreLock);
	const yumebridge::Result<yumebridge::Digest> Started = Core.start_from_image(NowMicroseconds(), std::move(Bytes),
		ToUtf8(Prompt), Seed.IsSet() ? std::optional<std::uint32_t>(Seed.GetValue()) : std::nullopt);
	if (!Started)
	{
		OutError = FromUtf8(Started.error().detail);
		return false;
	}
	FlushLocked();
	return true;
}

bool FYumeBridgeSession::StartFromText(const FString& Prompt, TOptional<uint32> Seed, FString& OutError)
{
	FScopeLock Lock(&CoreLock);
	const yumebridge::VoidResult Started = Core.start_from_text(NowMicroseconds(), ToUtf8(Prompt),
		Seed.IsSet() ? std::optional<std::uint32_t>(Seed.GetValue()) : std::nullopt);
	if (!Started)
	{
		OutError = FromUtf8(Started.error().detail);
		return false;
	}
	FlushLocked();
	return true;
}

bool FYumeBridgeSession::StartDefault(const FString& Prompt, TOptional<uint32> Seed, FString& OutError)
{
	FScopeLock Lock(&CoreLock);
	const yumebridge::VoidResult Started = Core.start_default(NowMicroseconds(), ToUtf8(Prompt),
		Seed.IsSet() ? std::optional<std::uint32_t>(Seed.GetValue()) : std::nullopt);
	if (!Started)
	{
		OutError = FromUtf8(Started.error().detail);
		return false;
	}
	FlushLocked();
	return true;
}

bool FYumeBridgeSession::Configure(TOptional<int32> Quality, TOptional<float> Fps, TOptional<bool> bPaused, FString& OutError)
{
	FScopeLock Lock(&CoreLock);
	const yumebridge::VoidResult Configured = Core.configure(NowMicroseconds(),
		Quality.IsSet() ? std::optional<std::int64_t>(Quality.GetValue()) : std::nullopt,
		Fps.IsSet() ? std::optional<double>(Fps.GetValue()) : std::nullopt,
		bPaused.IsSet() ? std::optional<bool>(bPaused.GetValue()) : std::nullopt);
	if (!Configured)
	{
		OutError = FromUtf8(Configured.error().detail);
		return false;
	}
	FlushLocked();
	return true;
}
