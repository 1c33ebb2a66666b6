#include "YumeBridgeConnection.h"

#include "YumeBridgeComponent.h"
#include "YumeBridgeModule.h"
#include "YumeBridgeSession.h"
#include "YumeBridgeSettings.h"

#include "Async/Async.h"
#include "Engine/Canvas.h"
#include "Engine/Texture2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "HAL/PlatformMisc.h"
#include "HAL/PlatformTime.h"
#include "IImageWrapper.h"
#include "IImageWrapperModule.h"
#include "Kismet/KismetRenderingLibrary.h"
#include "Misc/EngineVersion.h"
#include "Misc/FileHelper.h"
#include "Modules/ModuleManager.h"
#include "RenderingThread.h"
#include "RHICommandList.h"
#include "TextureResource.h"

/** Pixels and region of the frame texture's update; one per connection, reused every frame. */
struct FYumeBridgeUploadTicket
{
	TArray64<uint8> Pixels;
	FUpdateTextureRegion2D Region{0, 0, 0, 0, 0, 0};
};

/** The core's reconnect schedule, behind a name the public header can forward-declare. */
struct FYumeBridgeBackoff : yumebridge::ReconnectBackoff
{
	using yumebridge::ReconnectBackoff::ReconnectBackoff;
};

namespace
{
	constexpr int32 MaxReadbackSize = 2048;  // larger start images are scaled down to this (the daemon resizes anyway)

	FString ToFString(const std::string& Text)
	{
		return FString(UTF8_TO_TCHAR(Text.c_str()));
	}

	// Queues a GPU draw of Texture over the whole of Target, scaled to its size and converted to its
	// format; the game thread does not wait for it.
	void DrawTextureInto(UObject* WorldContext, UTexture* Texture, UTextureRenderTarget2D* Target)
	{
		UCanvas* Canvas = nullptr;
		FVector2D Size;
		FDrawToRenderTargetContext Context;
		UKismetRenderingLibrary::BeginDrawCanvasToRenderTarget(WorldContext, Target, Canvas, Size, Context);
		if (Canvas != nullptr)
		{
			Canvas->K2_DrawTexture(Texture, FVector2D::ZeroVector, Size, FVector2D::ZeroVector, FVector2D::UnitVector,
				FLinearColor::White, BLEND_Opaque);
		}
		UKismetRenderingLibrary::EndDrawCanvasToRenderTarget(WorldContext, Context);
	}

	std::string ToUtf8(const FString& Text)
	{
		const FTCHARToUTF8 Converted(*Text);
		return std::string(Converted.Get(), Converted.Length());
	}
}

UWorld* UYumeBridgeConnection::GetWorld() const
{
	// The game instance's world, through the owning subsystem; none for the class default object.
	return HasAnyFlags(RF_ClassDefaultObject) || GetOuter() == nullptr ? nullptr : GetOuter()->GetWorld();
}

void UYumeBridgeConnection::BeginDestroy()
{
	EndSession(true);
	Super::BeginDestroy();
}

// ---- views ----

void UYumeBridgeConnection::AddView(UYumeBridgeComponent* View)
{
	Views.AddUnique(View);
}

void UYumeBridgeConnection::RemoveView(UYumeBridgeComponent* View)
{
	Views.Remove(View);
}

int32 UYumeBridgeConnection::NumViews() const
{
	int32 Count = 0;
	for (const TWeakObjectPtr<UYumeBridgeComponent>& View : Views)
	{
		Count += View.IsValid() ? 1 : 0;
	}
	return Count;
}

// Broadcasts on this connection and on every component that views it.
#define YUME_BROADCAST(Delegate, ...) \
	do \
	{ \
		Delegate.Broadcast(__VA_ARGS__); \
		for (const TWeakObjectPtr<UYumeBridgeComponent>& View : TArray<TWeakObjectPtr<UYumeBridgeComponent>>(Views)) \
		{ \
			if (UYumeBridgeComponent* Component = View.Get()) \
			{ \
				Component->Delegate.Broadcast(__VA_ARGS__); \
			} \
		} \
	} while (false)

// ---- connection ----

FString UYumeBridgeConnection::ResolveToken(const FString& Token) const
{
	if (!Token.IsEmpty())
	{
		return Token;
	}
	// Never from DefaultGame.ini, which ships with the game: the environment, then this machine's editor settings.
	const FString FromEnvironment = FPlatformMisc::GetEnvironmentVariable(TEXT("YUME_BRIDGE_TOKEN"));
	if (!FromEnvironment.IsEmpty())
	{
		return FromEnvironment;
	}
	return UYumeBridgeUserSettings::Get()->Token;
}

bool UYumeBridgeConnection::Connect(const FString& Host, int32 Port, const FString& Token)
{
	const UYumeBridgeSettings* Settings = UYumeBridgeSettings::Get();
	SessionHost = Host.IsEmpty() ? Settings->DefaultHost : Host;
	SessionPort = Port > 0 ? Port : Settings->DefaultPort;
	SessionToken = ResolveToken(Token);
	if (!Backoff.IsValid())
	{
		yumebridge::BackoffConfig Config;
		Config.initial = static_cast<yumebridge::Time>(Settings->ReconnectInitialDelay * 1e6f);
		Config.maximum = static_cast<yumebridge::Time>(Settings->ReconnectMaxDelay * 1e6f);
		Backoff = MakeShared<FYumeBridgeBackoff, ESPMode::ThreadSafe>(Config);
	}
	Backoff->reset();
	return StartSession();
}

bool UYumeBridgeConnection::StartSession()
{
	if (Session.IsValid())
	{
		EndSession(true);
	}
	const UYumeBridgeSettings* Settings = UYumeBridgeSettings::Get();
	FYumeBridgeConnectOptions Options;
	Options.Host = SessionHost;
	Options.Port = SessionPort;
	Options.Token = SessionToken;
	Options.bRequireAuthentication = Settings->bRequireAuthentication;
	Options.bUseJson = Settings->bUseJson;
	Options.Width = Settings->RequestedWidth;
	Options.Height = Settings->RequestedHeight;
	Options.Fps = Settings->RequestedFps;
	Options.Quality = Settings->JpegQuality;
	Options.MaxDatagram = Settings->MaxDatagram;
	Options.MaxPlayoutDelay = Settings->MaxPlayoutDelay;
	Options.ReceiveBufferBytes = Settings->ReceiveBufferBytes;
	Options.EngineName = FString::Printf(TEXT("Unreal %d.%d"), FEngineVersion::Current().GetMajor(), FEngineVersion::Current().GetMinor());
	if (Options.Port <= 0 || Options.Port > 65535)
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("port %d is not a UDP port"), Options.Port));
		return false;
	}
	++SessionGeneration;
	Session = MakeShared<FYumeBridgeSession, ESPMode::ThreadSafe>(Options);
	FString Error;
	if (!Session->Launch(Error))
	{
		Session.Reset();
		ConnectionState = EYumeBridgeConnectionState::Disconnected;
		ReportError(TEXT("invalid_argument"), Error);
		return false;
	}
	ConnectionState = EYumeBridgeConnectionState::Connecting;
	FramesDisplayed = 0;
	bInputDirty = true;
	UE_LOG(LogYumeBridge, Log, TEXT("Connecting to the yume_bridge daemon at %s:%d%s."), *SessionHost, SessionPort,
		Options.Token.IsEmpty() ? TEXT("") : TEXT(" with a token"));
	return true;
}

void UYumeBridgeConnection::Disconnect()
{
	const bool bWasActive = Session.IsValid() || ConnectionState == EYumeBridgeConnectionState::WaitingToReconnect;
	EndSession(true);
	if (bWasActive)
	{
		UE_LOG(LogYumeBridge, Log, TEXT("Disconnected from the yume_bridge daemon at %s:%d."), *SessionHost, SessionPort);
		YUME_BROADCAST(OnDisconnected, TEXT("client"));
	}
}

void UYumeBridgeConnection::EndSession(bool bSayBye)
{
	if (Session.IsValid())
	{
		Session->Shutdown(bSayBye);
		Session.Reset();
	}
	ConnectionState = EYumeBridgeConnectionState::Disconnected;
}

bool UYumeBridgeConnection::CanRequest(const TCHAR* What)
{
	if (Session.IsValid())
	{
		return true;
	}
	ReportError(TEXT("not_connected"), FString::Printf(TEXT("%s needs a connection: call Connect first"), What));
	return false;
}

void UYumeBridgeConnection::ReportError(const FString& Code, const FString& Reason)
{
	UE_LOG(LogYumeBridge, Warning, TEXT("%s: %s"), *Code, *Reason);
	YUME_BROADCAST(OnError, Code, Reason);
}

TOptional<uint32> UYumeBridgeConnection::SeedForStart() const
{
	if (Seed < 0 || Seed > static_cast<int64>(MAX_uint32))
	{
		return TOptional<uint32>();
	}
	return TOptional<uint32>(static_cast<uint32>(Seed));
}

// ---- starting a world ----

bool UYumeBridgeConnection::StartFromTexture(UTexture* Texture, const FString& Prompt)
{
	if (!CanRequest(TEXT("StartFromTexture")))
	{
		return false;
	}
	if (Texture == nullptr || Texture->GetResource() == nullptr)
	{
		ReportError(TEXT("invalid_argument"), TEXT("StartFromTexture got no texture, or one without a GPU resource yet"));
		return false;
	}
	UTextureRenderTarget2D* Source = Cast<UTextureRenderTarget2D>(Texture);
	if (Source == nullptr)
	{
		// Any other texture (compressed, streamed, cooked without CPU data) is drawn into a render
		// target first: the GPU already has its pixels, whatever the platform or packaging.
		const float Scale = FMath::Min(1.f, static_cast<float>(MaxReadbackSize) /
			FMath::Max(1.f, FMath::Max(Texture->GetSurfaceWidth(), Texture->GetSurfaceHeight())));
		const int32 Width = FMath::Max(1, FMath::RoundToInt(Texture->GetSurfaceWidth() * Scale));
		const int32 Height = FMath::Max(1, FMath::RoundToInt(Texture->GetSurfaceHeight() * Scale));
		if (ReadbackTarget == nullptr || ReadbackTarget->SizeX != Width || ReadbackTarget->SizeY != Height)
		{
			ReadbackTarget = UKismetRenderingLibrary::CreateRenderTarget2D(this, Width, Height, RTF_RGBA8);
		}
		if (ReadbackTarget == nullptr)
		{
			ReportError(TEXT("invalid_argument"), TEXT("cannot create a render target to read the texture back"));
			return false;
		}
		DrawTextureInto(this, Texture, ReadbackTarget);
		Source = ReadbackTarget;
	}
	FTextureRenderTargetResource* Resource = Source->GameThread_GetRenderTargetResource();
	if (Resource == nullptr)
	{
		ReportError(TEXT("invalid_argument"), TEXT("the render target has no GPU resource yet"));
		return false;
	}
	const int32 Width = Source->SizeX;
	const int32 Height = Source->SizeY;
	IImageWrapperModule* ImageWrapperModule = &FModuleManager::LoadModuleChecked<IImageWrapperModule>(TEXT("ImageWrapper"));
	const TWeakPtr<FYumeBridgeSession, ESPMode::ThreadSafe> WeakSession = Session;
	const TOptional<uint32> StartSeed = SeedForStart();
	const FString Name = Texture->GetName();
	// Read back on the render thread (it waits for the GPU, the game thread does not), encode on a
	// background thread, then hand the JPEG to the session, whose requests are thread-safe.
	ENQUEUE_RENDER_COMMAND(YumeBridgeReadStartImage)(
		[Resource, Width, Height, ImageWrapperModule, WeakSession, StartSeed, Prompt, Name](FRHICommandListImmediate& RHICmdList)
		{
			TArray<FColor> Pixels;
			RHICmdList.ReadSurfaceData(Resource->GetRenderTargetTexture(), FIntRect(0, 0, Width, Height), Pixels,
				FReadSurfaceDataFlags(RCM_UNorm));
			AsyncTask(ENamedThreads::AnyBackgroundThreadNormalTask,
				[Pixels = MoveTemp(Pixels), Width, Height, ImageWrapperModule, WeakSession, StartSeed, Prompt, Name]()
				{
					const TSharedPtr<FYumeBridgeSession, ESPMode::ThreadSafe> Pinned = WeakSession.Pin();
					if (!Pinned.IsValid())
					{
						return;  // the session ended meanwhile
					}
					const TSharedPtr<IImageWrapper> Wrapper = ImageWrapperModule->CreateImageWrapper(EImageFormat::JPEG);
					FString Error;
					if (Pixels.Num() != Width * Height || !Wrapper.IsValid() ||
						!Wrapper->SetRaw(Pixels.GetData(), static_cast<int64>(Pixels.Num()) * 4, Width, Height, ERGBFormat::BGRA, 8))
					{
						Pinned->ReportError(TEXT("invalid_argument"),
							FString::Printf(TEXT("cannot read texture %s back from the GPU"), *Name), TEXT("start"));
						return;
					}
					const TArray64<uint8> Compressed = Wrapper->GetCompressed(95);
					TArray<uint8> Jpeg;
					Jpeg.Append(Compressed.GetData(), static_cast<int32>(Compressed.Num()));
					if (!Pinned->StartFromImage(MoveTemp(Jpeg), Prompt, StartSeed, Error))
					{
						Pinned->ReportError(TEXT("invalid_argument"),
							FString::Printf(TEXT("cannot start from texture %s: %s"), *Name, *Error), TEXT("start"));
					}
				});
		});
	return true;
}

bool UYumeBridgeConnection::StartFromImageFile(const FString& Path, const FString& Prompt)
{
	if (!CanRequest(TEXT("StartFromImageFile")))
	{
		return false;
	}
	TArray<uint8> Bytes;
	FString Error;
	if (!FFileHelper::LoadFileToArray(Bytes, *Path))
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("cannot read the image file %s"), *Path));
		return false;
	}
	if (!Session->StartFromImage(MoveTemp(Bytes), Prompt, SeedForStart(), Error))
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("cannot start from %s: %s"), *Path, *Error));
		return false;
	}
	return true;
}

bool UYumeBridgeConnection::StartFromPrompt(const FString& Prompt)
{
	FString Error;
	if (!CanRequest(TEXT("StartFromPrompt")))
	{
		return false;
	}
	if (!Session->StartFromText(Prompt, SeedForStart(), Error))
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("cannot start from the prompt: %s"), *Error));
		return false;
	}
	return true;
}

bool UYumeBridgeConnection::StartFromDefault(const FString& Prompt)
{
	FString Error;
	if (!CanRequest(TEXT("StartFromDefault")))
	{
		return false;
	}
	if (!Session->StartDefault(Prompt, SeedForStart(), Error))
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("cannot start the default scene: %s"), *Error));
		return false;
	}
	return true;
}

// ---- steering ----

void UYumeBridgeConnection::SetMovement(FVector2D Movement)
{
	const FVector2D Clamped(FMath::Clamp(Movement.X, -1.0, 1.0), FMath::Clamp(Movement.Y, -1.0, 1.0));
	if (Clamped != PendingMovement)
	{
		PendingMovement = Clamped;
		bInputDirty = true;
	}
}

void UYumeBridgeConnection::SetLook(FVector2D Look)
{
	SetLookUnscaled(Look * LookScale);
}

void UYumeBridgeConnection::SetLookUnscaled(FVector2D Look)
{
	const FVector2D Clamped(FMath::Clamp(Look.X, -1.0, 1.0), FMath::Clamp(Look.Y, -1.0, 1.0));
	if (Clamped != PendingLook)
	{
		PendingLook = Clamped;
		bInputDirty = true;
	}
}

void UYumeBridgeConnection::SetHeldKeys(const TArray<FString>& Keys)
{
	if (Keys != PendingKeys)
	{
		PendingKeys = Keys;
		bInputDirty = true;
	}
}

int32 UYumeBridgeConnection::SendEventPrompt(const FString& Text)
{
	if (!CanRequest(TEXT("SendEventPrompt")))
	{
		return -1;
	}
	int32 Id = -1;
	FString Error;
	if (!Session->SendEvent(Text, Id, Error))
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("cannot send the event prompt: %s"), *Error));
		return -1;
	}
	return Id;
}

bool UYumeBridgeConnection::UpdateEventPrompt(int32 EventId, const FString& Text)
{
	FString Error;
	if (!CanRequest(TEXT("UpdateEventPrompt")))
	{
		return false;
	}
	if (!Session->SetEvent(EventId, Text, Error))
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("cannot update event %d: %s"), EventId, *Error));
		return false;
	}
	return true;
}

bool UYumeBridgeConnection::SetPaused(bool bPaused)
{
	FString Error;
	if (!CanRequest(TEXT("SetPaused")))
	{
		return false;
	}
	if (!Session->Configure(TOptional<int32>(), TOptional<float>(), bPaused, Error))
	{
		ReportError(TEXT("invalid_argument"), Error);
		return false;
	}
	return true;
}

bool UYumeBridgeConnection::SetStreamSettings(int32 Quality, float Fps)
{
	FString Error;
	if (!CanRequest(TEXT("SetStreamSettings")))
	{
		return false;
	}
	const TOptional<int32> NewQuality = Quality > 0 ? TOptional<int32>(Quality) : TOptional<int32>();
	const TOptional<float> NewFps = Fps > 0.f ? TOptional<float>(Fps) : TOptional<float>();
	if (!Session->Configure(NewQuality, NewFps, TOptional<bool>(), Error))
	{
		ReportError(TEXT("value_out_of_range"), Error);
		return false;
	}
	return true;
}

// ---- the game-thread side of the stream ----

void UYumeBridgeConnection::Tick(float DeltaTime)
{
	if (ConnectionState == EYumeBridgeConnectionState::WaitingToReconnect && FPlatformTime::Seconds() >= ReconnectAt)
	{
		UE_LOG(LogYumeBridge, Log, TEXT("Reconnecting to the yume_bridge daemon at %s:%d (attempt %d)."), *SessionHost,
			SessionPort, Backoff.IsValid() ? Backoff->attempts() : 0);
		StartSession();
	}
	if (!Session.IsValid())
	{
		return;
	}
	// One input message per tick at most, with everything set during the tick.
	if (bInputDirty)
	{
		Session->SetInput(PendingMovement, PendingLook, PendingKeys);
		bInputDirty = false;
	}
	// An event handler may end this session or start another (Connect from OnError): stop polling
	// as soon as the session this loop started with is gone.
	const uint32 Generation = SessionGeneration;
	FYumeBridgeSessionEvent Event;
	while (Session.IsValid() && Generation == SessionGeneration && Session->PollEvent(Event))
	{
		HandleEvent(Event);
	}
	if (Session.IsValid() && Generation == SessionGeneration)
	{
		UploadNextFrame();
	}
}

void UYumeBridgeConnection::HandleEvent(const FYumeBridgeSessionEvent& Event)
{
	using EKind = FYumeBridgeSessionEvent::EKind;
	switch (Event.Kind)
	{
	case EKind::Connected:
		ConnectionState = EYumeBridgeConnectionState::Connected;
		SessionInfo = Event.Info;
		if (Backoff.IsValid())
		{
			Backoff->reset();
		}
		EnsureTexture(SessionInfo.Width, SessionInfo.Height);
		UE_LOG(LogYumeBridge, Log, TEXT("Connected to yume_bridge %s at %s:%d: session %lld, %s/%s, %dx%d at %.1f fps%s."),
			*SessionInfo.DaemonVersion, *SessionHost, SessionPort, SessionInfo.Session, *SessionInfo.Backend,
			*SessionInfo.Model, SessionInfo.Width, SessionInfo.Height, SessionInfo.Fps,
			SessionInfo.bAuthenticated ? TEXT(", authenticated") : TEXT(""));
		YUME_BROADCAST(OnConnected, SessionInfo);
		break;
	case EKind::UploadProgress:
		UE_LOG(LogYumeBridge, Verbose, TEXT("Start image: %lld of %lld bytes uploaded."), Event.First, Event.Second);
		break;
	case EKind::UploadComplete:
		UE_LOG(LogYumeBridge, Log, TEXT("Start image uploaded."));
		break;
	case EKind::Started:
		UE_LOG(LogYumeBridge, Log, TEXT("World %lld started from %s%s."), Event.First, *Event.Context,
			Event.bFlag ? TEXT(" (confirmed by a status; its seed is unknown)") : TEXT(""));
		YUME_BROADCAST(OnStarted, Event.First, Event.bFlag ? -1 : Event.Second);
		break;
	case EKind::EventAcknowledged:
		YUME_BROADCAST(OnEventAcknowledged, static_cast<int32>(Event.First), Event.Second, Event.ActiveEvents);
		break;
	case EKind::Status:
	{
		const float InputToFrameMs = LastStatus.InputToFrameMs;  // measured here, per displayed frame
		LastStatus = Event.Status;
		LastStatus.InputToFrameMs = InputToFrameMs;
		LastStatus.FramesDisplayed = FramesDisplayed;
		YUME_BROADCAST(OnStatus, LastStatus);
		break;
	}
	case EKind::RoundTrip:
		LastStatus.RoundTripMs = Event.Milliseconds;
		break;
	case EKind::Error:
		ReportError(Event.Code, Event.Context == TEXT("event") && Event.First >= 0
			? FString::Printf(TEXT("event %lld: %s"), Event.First, *Event.Message)
			: Event.Message);
		break;
	case EKind::Closed:
		HandleClosed(Event);
		break;
	}
}

void UYumeBridgeConnection::HandleClosed(const FYumeBridgeSessionEvent& Event)
{
	// End the session BEFORE telling anyone: a listener that calls Connect from OnError or
	// OnDisconnected starts a new session, which must not be ended right after.
	EndSession(false);
	FString Reason = Event.Message;
	if (Event.bFlag)
	{
		const yumebridge::Diagnosis Diagnosis = yumebridge::diagnose(Event.CoreCode, ToUtf8(SessionHost), SessionPort);
		Reason = FString::Printf(TEXT("%s %s (%s)"), *ToFString(Diagnosis.summary), *ToFString(Diagnosis.fix), *Event.Message);
		const double RandomFraction = FMath::FRand();
		const std::optional<yumebridge::Time> RetryAt = bAutoReconnect && Backoff.IsValid()
			? Backoff->schedule(0, Event.CoreCode, RandomFraction)
			: std::nullopt;
		if (RetryAt)
		{
			ConnectionState = EYumeBridgeConnectionState::WaitingToReconnect;
			ReconnectAt = FPlatformTime::Seconds() + static_cast<double>(*RetryAt) / 1e6;
			Reason += FString::Printf(TEXT(" Reconnecting in %.1f s."), static_cast<double>(*RetryAt) / 1e6);
		}
		UE_LOG(LogYumeBridge, Error, TEXT("%s"), *Reason);
		YUME_BROADCAST(OnError, Event.Code, Reason);
	}
	else
	{
		UE_LOG(LogYumeBridge, Log, TEXT("The yume_bridge daemon at %s:%d closed the session: %s"), *SessionHost,
			SessionPort, *Event.Message);
	}
	YUME_BROADCAST(OnDisconnected, Reason);
}

void UYumeBridgeConnection::EnsureTexture(int32 Width, int32 Height)
{
	if (Width <= 0 || Height <= 0)
	{
		return;
	}
	if (FrameTexture != nullptr && FrameTexture->GetSizeX() == Width && FrameTexture->GetSizeY() == Height)
	{
		return;
	}
	if (FrameTexture != nullptr)
	{
		UE_LOG(LogYumeBridge, Warning, TEXT("The stream changed size to %dx%d: the frame texture is recreated."), Width, Height);
	}
	UTexture2D* Texture = UTexture2D::CreateTransient(Width, Height, PF_B8G8R8A8);
	if (Texture == nullptr)
	{
		ReportError(TEXT("texture"), FString::Printf(TEXT("cannot create a %dx%d frame texture"), Width, Height));
		return;
	}
	Texture->SRGB = true;
	Texture->Filter = TF_Bilinear;
	Texture->AddressX = TA_Clamp;
	Texture->AddressY = TA_Clamp;
	Texture->UpdateResource();
	FrameTexture = Texture;
}

void UYumeBridgeConnection::UploadNextFrame()
{
	if (!UploadTicket.IsValid())
	{
		UploadTicket = MakeShared<FYumeBridgeUploadTicket, ESPMode::ThreadSafe>();
		DecodedFrame = MakeShared<FYumeBridgeDecodedFrame, ESPMode::ThreadSafe>();
	}
	// At most one frame per tick and one texture update in flight: while the render thread holds the
	// ticket, frames wait in order in the decoder's queue. The decoder hands out the oldest, so frames
	// released together are shown on consecutive ticks, or the newest when more than two wait.
	if (UploadTicket.GetSharedReferenceCount() > 1)
	{
		return;
	}
	FYumeBridgeDecodedFrame& Frame = *DecodedFrame;
	if (!Session->TakeDecodedFrame(Frame))
	{
		return;
	}
	EnsureTexture(Frame.Width, Frame.Height);
	if (FrameTexture == nullptr || FrameTexture->GetResource() == nullptr)
	{
		return;
	}
	FYumeBridgeUploadTicket& Ticket = *UploadTicket;
	Swap(Ticket.Pixels, Frame.Pixels);  // no copy; the previous buffer goes back to the decoder
	Ticket.Region = FUpdateTextureRegion2D(0, 0, 0, 0, static_cast<uint32>(Frame.Width), static_cast<uint32>(Frame.Height));
	TSharedPtr<FYumeBridgeUploadTicket, ESPMode::ThreadSafe> Held = UploadTicket;
	FrameTexture->UpdateTextureRegions(0, 1, &Ticket.Region, static_cast<uint32>(Frame.Width) * 4u, 4u,
		Ticket.Pixels.GetData(),
		[Held](uint8*, const FUpdateTextureRegion2D*) mutable
		{
			Held.Reset();  // on the render thread, once the texture has the pixels
		});
	CopyToRenderTarget();
	++FramesDisplayed;
	LastStatus.FramesDisplayed = FramesDisplayed;
	LastStatus.InputToFrameMs = Frame.Info.InputToFrameMs >= 0.f ? Frame.Info.InputToFrameMs : LastStatus.InputToFrameMs;
	YUME_BROADCAST(OnFrame, FrameTexture, Frame.Info);
}

void UYumeBridgeConnection::CopyToRenderTarget()
{
	if (OutputRenderTarget == nullptr || FrameTexture == nullptr)
	{
		return;
	}
	// Queued after the texture update on the render thread, so it draws the new frame; scaled to the
	// target's size and converted to its format by the GPU.
	DrawTextureInto(this, FrameTexture, OutputRenderTarget);
}

#undef YUME_BROADCAST
