#include "YumeBridgeComponent.h"

#include "YumeBridgeModule.h"
#include "YumeBridgeSession.h"
#include "YumeBridgeSettings.h"

#include "Engine/Texture.h"
#include "Engine/Texture2D.h"
#include "IImageWrapper.h"
#include "IImageWrapperModule.h"
#include "Misc/EngineVersion.h"
#include "Misc/FileHelper.h"
#include "Modules/ModuleManager.h"
#include "RenderUtils.h"
#include "RHI.h"
#include "TextureResource.h"

UYumeBridgeComponent::UYumeBridgeComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.bStartWithTickEnabled = true;
	UploadInFlight = MakeShared<std::atomic<bool>, ESPMode::ThreadSafe>(false);
}

void UYumeBridgeComponent::BeginPlay()
{
	Super::BeginPlay();
	if (bConnectOnBeginPlay && Connect())
	{
		StartFromDefault();
	}
}

void UYumeBridgeComponent::EndPlay(const EEndPlayReason::Type EndPlayReason)
{
	EndSession(true);
	Super::EndPlay(EndPlayReason);
}

// ---- connection ----

bool UYumeBridgeComponent::Connect(const FString& Host, int32 Port, const FString& Token)
{
	if (Session.IsValid())
	{
		EndSession(true);
	}
	const UYumeBridgeSettings* Settings = UYumeBridgeSettings::Get();
	FYumeBridgeConnectOptions Options;
	Options.Host = Host.IsEmpty() ? Settings->DefaultHost : Host;
	Options.Port = Port > 0 ? Port : Settings->DefaultPort;
	Options.Token = Token.IsEmpty() ? Settings->DefaultToken : Token;
	Options.bRequireAuthentication = Settings->bRequireAuthentication;
	Options.bUseJson = Settings->bUseJson;
	Options.Width = Settings->RequestedWidth;
	Options.Height = Settings->RequestedHeight;
	Options.Fps = Settings->RequestedFps;
	Options.Quality = Settings->JpegQuality;
	Options.MaxDatagram = Settings->MaxDatagram;
	Options.ReceiveBufferBytes = Settings->ReceiveBufferBytes;
	Options.EngineName = FString::Printf(TEXT("Unreal %d.%d"), FEngineVersion::Current().GetMajor(), FEngineVersion::Current().GetMinor());
	if (Options.Port <= 0 || Options.Port > 65535)
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("port %d is not a UDP port"), Options.Port));
		return false;
	}

	SessionHost = Options.Host;
	SessionPort = Options.Port;
	Session = MakeShared<FYumeBridgeSession, ESPMode::ThreadSafe>(Options);
	FString Error;
	if (!Session->Launch(Error))
	{
		Session.Reset();
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

void UYumeBridgeComponent::Disconnect()
{
	if (!Session.IsValid())
	{
		return;
	}
	EndSession(true);
	UE_LOG(LogYumeBridge, Log, TEXT("Disconnected from the yume_bridge daemon at %s:%d."), *SessionHost, SessionPort);
	OnDisconnected.Broadcast(TEXT("client"));
}

void UYumeBridgeComponent::EndSession(bool bSayBye)
{
	if (Session.IsValid())
	{
		Session->Shutdown(bSayBye);
		Session.Reset();
	}
	ConnectionState = EYumeBridgeConnectionState::Disconnected;
}

bool UYumeBridgeComponent::CanRequest(const TCHAR* What)
{
	if (Session.IsValid())
	{
		return true;
	}
	ReportError(TEXT("not_connected"), FString::Printf(TEXT("%s needs a connection: call Connect first"), What));
	return false;
}

void UYumeBridgeComponent::ReportError(const FString& Code, const FString& Reason)
{
	UE_LOG(LogYumeBridge, Warning, TEXT("%s: %s"), *Code, *Reason);
	OnError.Broadcast(Code, Reason);
}

TOptional<uint32> UYumeBridgeComponent::SeedForStart() const
{
	if (Seed < 0 || Seed > static_cast<int64>(MAX_uint32))
	{
		return TOptional<uint32>();
	}
	return TOptional<uint32>(static_cast<uint32>(Seed));
}

// ---- starting a world ----

bool UYumeBridgeComponent::StartFromTexture(UTexture2D* Texture, const FString& Prompt)
{
	if (!CanRequest(TEXT("StartFromTexture")))
	{
		return false;
	}
	if (Texture == nullptr)
	{
		ReportError(TEXT("invalid_argument"), TEXT("StartFromTexture got no texture"));
		return false;
	}
	TArray<uint8> Jpeg;
	FString Error;
	if (!EncodeTextureAsJpeg(Texture, Jpeg, Error) || !Session->StartFromImage(MoveTemp(Jpeg), Prompt, SeedForStart(), Error))
	{
		ReportError(TEXT("invalid_argument"), FString::Printf(TEXT("cannot start from texture %s: %s"), *Texture->GetName(), *Error));
		return false;
	}
	return true;
}

bool UYumeBridgeComponent::StartFromImageFile(const FString& Path, const FString& Prompt)
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

bool UYumeBridgeComponent::StartFromPrompt(const FString& Prompt)
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

bool UYumeBridgeComponent::StartFromDefault(const FString& Prompt)
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

bool UYumeBridgeComponent::EncodeTextureAsJpeg(UTexture2D* Texture, TArray<uint8>& OutJpeg, FString& OutError)
{
	TArray64<uint8> Pixels;
	int32 Width = 0;
	int32 Height = 0;
	ERGBFormat Format = ERGBFormat::BGRA;
#if WITH_EDITORONLY_DATA
	// In the editor the imported source pixels are at hand.
	if (Texture->Source.IsValid() && Texture->Source.GetFormat() == TSF_BGRA8)
	{
		Width = static_cast<int32>(Texture->Source.GetSizeX());
		Height = static_cast<int32>(Texture->Source.GetSizeY());
		if (!Texture->Source.GetMipData(Pixels, 0))
		{
			Pixels.Reset();
		}
	}
#endif
	if (Pixels.Num() == 0)
	{
		// Otherwise the top mip, when it is uncompressed 8-bit and resident in CPU memory.
		FTexturePlatformData* PlatformData = Texture->GetPlatformData();
		if (PlatformData != nullptr && PlatformData->Mips.Num() > 0 &&
			(PlatformData->PixelFormat == PF_B8G8R8A8 || PlatformData->PixelFormat == PF_R8G8B8A8))
		{
			Format = PlatformData->PixelFormat == PF_B8G8R8A8 ? ERGBFormat::BGRA : ERGBFormat::RGBA;
			FTexture2DMipMap& Mip = PlatformData->Mips[0];
			const void* Data = Mip.BulkData.LockReadOnly();
			if (Data != nullptr)
			{
				Width = Mip.SizeX;
				Height = Mip.SizeY;
				Pixels.Append(static_cast<const uint8*>(Data), static_cast<int64>(Width) * Height * 4);
			}
			Mip.BulkData.Unlock();
		}
	}
	if (Width <= 0 || Height <= 0 || Pixels.Num() != static_cast<int64>(Width) * Height * 4)
	{
		OutError = TEXT("its pixels are not readable on the CPU (a compressed or streamed texture in a packaged game); "
			"use an uncompressed texture (VectorDisplacementmap or UserInterface2D compression) or StartFromImageFile");
		return false;
	}
	IImageWrapperModule& ImageWrapperModule = FModuleManager::LoadModuleChecked<IImageWrapperModule>(TEXT("ImageWrapper"));
	TSharedPtr<IImageWrapper> Wrapper = ImageWrapperModule.CreateImageWrapper(EImageFormat::JPEG);
	if (!Wrapper.IsValid() || !Wrapper->SetRaw(Pixels.GetData(), Pixels.Num(), Width, Height, Format, 8))
	{
		OutError = TEXT("the JPEG encoder refused its pixels");
		return false;
	}
	const TArray64<uint8> Compressed = Wrapper->GetCompressed(95);
	if (Compressed.Num() == 0 || Compressed.Num() > MAX_int32)
	{
		OutError = TEXT("JPEG encoding failed");
		return false;
	}
	OutJpeg.Reset();
	OutJpeg.Append(Compressed.GetData(), static_cast<int32>(Compressed.Num()));
	return true;
}

// ---- steering ----

void UYumeBridgeComponent::SetMovement(FVector2D Movement)
{
	const FVector2D Clamped(FMath::Clamp(Movement.X, -1.0, 1.0), FMath::Clamp(Movement.Y, -1.0, 1.0));
	if (Clamped != PendingMovement)
	{
		PendingMovement = Clamped;
		bInputDirty = true;
	}
}

void UYumeBridgeComponent::SetLook(FVector2D Look)
{
	const FVector2D Scaled = Look * LookScale;
	const FVector2D Clamped(FMath::Clamp(Scaled.X, -1.0, 1.0), FMath::Clamp(Scaled.Y, -1.0, 1.0));
	if (Clamped != PendingLook)
	{
		PendingLook = Clamped;
		bInputDirty = true;
	}
}

void UYumeBridgeComponent::SetHeldKeys(const TArray<FString>& Keys)
{
	if (Keys != PendingKeys)
	{
		PendingKeys = Keys;
		bInputDirty = true;
	}
}

int32 UYumeBridgeComponent::SendEventPrompt(const FString& Text)
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

bool UYumeBridgeComponent::UpdateEventPrompt(int32 EventId, const FString& Text)
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

bool UYumeBridgeComponent::ClearEventPrompt(int32 EventId)
{
	return UpdateEventPrompt(EventId, FString());
}

bool UYumeBridgeComponent::SetPaused(bool bPaused)
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

bool UYumeBridgeComponent::SetStreamSettings(int32 Quality, float Fps)
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

void UYumeBridgeComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
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
	FYumeBridgeSessionEvent Event;
	while (Session.IsValid() && Session->PollEvent(Event))
	{
		HandleEvent(Event);
	}
	if (Session.IsValid())
	{
		UploadNewestFrame();
	}
}

void UYumeBridgeComponent::HandleEvent(const FYumeBridgeSessionEvent& Event)
{
	using EKind = FYumeBridgeSessionEvent::EKind;
	switch (Event.Kind)
	{
	case EKind::Connected:
		ConnectionState = EYumeBridgeConnectionState::Connected;
		SessionInfo = Event.Info;
		EnsureTexture(SessionInfo.Width, SessionInfo.Height);
		UE_LOG(LogYumeBridge, Log, TEXT("Connected to yume_bridge %s at %s:%d: session %lld, %s/%s, %dx%d at %.1f fps%s."),
			*SessionInfo.DaemonVersion, *SessionHost, SessionPort, SessionInfo.Session, *SessionInfo.Backend,
			*SessionInfo.Model, SessionInfo.Width, SessionInfo.Height, SessionInfo.Fps,
			SessionInfo.bAuthenticated ? TEXT(", authenticated") : TEXT(""));
		OnConnected.Broadcast(SessionInfo);
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
		OnStarted.Broadcast(Event.First, Event.bFlag ? -1 : Event.Second);
		break;
	case EKind::EventAcknowledged:
		OnEventAcknowledged.Broadcast(static_cast<int32>(Event.First), Event.Second, Event.ActiveEvents);
		break;
	case EKind::Status:
	{
		const float InputToFrameMs = LastStatus.InputToFrameMs;  // measured here, per displayed frame
		LastStatus = Event.Status;
		LastStatus.InputToFrameMs = InputToFrameMs;
		LastStatus.FramesDisplayed = FramesDisplayed;
		OnStatus.Broadcast(LastStatus);
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
		if (Event.bFlag)
		{
			const TCHAR* What = TEXT("The session with the yume_bridge daemon ended");
			if (Event.Code == TEXT("daemon_unreachable"))
			{
				What = TEXT("The yume_bridge daemon is unreachable");
			}
			else if (Event.Code == TEXT("unsupported_version"))
			{
				What = TEXT("The yume_bridge daemon speaks another protocol version");
			}
			else if (Event.Code == TEXT("auth_failed") || Event.Code == TEXT("auth_required"))
			{
				What = TEXT("The yume_bridge daemon refused the token");
			}
			UE_LOG(LogYumeBridge, Error, TEXT("%s (%s:%d): %s"), What, *SessionHost, SessionPort, *Event.Message);
			OnError.Broadcast(Event.Code, Event.Message);
		}
		else
		{
			UE_LOG(LogYumeBridge, Log, TEXT("The yume_bridge daemon at %s:%d closed the session: %s"), *SessionHost,
				SessionPort, *Event.Message);
		}
		EndSession(false);
		OnDisconnected.Broadcast(Event.Message);
		break;
	}
}

void UYumeBridgeComponent::EnsureTexture(int32 Width, int32 Height)
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

void UYumeBridgeComponent::UploadNewestFrame()
{
	// At most one texture update in flight: while the render thread has not applied the previous one,
	// newer frames wait in the decoder, which keeps only the newest.
	if (UploadInFlight->load())
	{
		return;
	}
	FYumeBridgeDecodedFrame Frame;
	if (!Session->TakeDecodedFrame(Frame))
	{
		return;
	}
	EnsureTexture(Frame.Width, Frame.Height);
	if (FrameTexture == nullptr || FrameTexture->GetResource() == nullptr)
	{
		return;
	}
	struct FPendingUpload
	{
		TArray64<uint8> Pixels;
		FUpdateTextureRegion2D Region;
	};
	FPendingUpload* Upload = new FPendingUpload{MoveTemp(Frame.Pixels),
		FUpdateTextureRegion2D(0, 0, 0, 0, static_cast<uint32>(Frame.Width), static_cast<uint32>(Frame.Height))};
	TSharedPtr<std::atomic<bool>, ESPMode::ThreadSafe> InFlight = UploadInFlight;
	InFlight->store(true);
	FrameTexture->UpdateTextureRegions(0, 1, &Upload->Region, static_cast<uint32>(Frame.Width) * 4u, 4u,
		Upload->Pixels.GetData(),
		[Upload, InFlight](uint8*, const FUpdateTextureRegion2D*)
		{
			delete Upload;  // runs on the render thread once the texture has the pixels
			InFlight->store(false);
		});
	++FramesDisplayed;
	LastStatus.FramesDisplayed = FramesDisplayed;
	LastStatus.InputToFrameMs = Frame.Info.InputToFrameMs >= 0.f ? Frame.Info.InputToFrameMs : LastStatus.InputToFrameMs;
	OnFrame.Broadcast(FrameTexture, Frame.Info);
}
