# Las palabras del bridge en español de América Latina. Los mismos ids que en.ftl.

## Avisos del ciclo de vida para el cliente

notice-agent-joined = { $agent } se unió al chat.
notice-agent-left = { $agent } salió del chat.
notice-transferred = Te estamos transfiriendo con alguien que puede ayudarte. Por favor, no te vayas.
notice-chat-ended = Este chat terminó. Escríbenos cuando quieras para iniciar uno nuevo.
notice-idle = ¿Sigues ahí? Este chat se cerrará pronto si no sabemos de ti.
notice-auto-disconnect = Cerramos este chat porque no tuvimos respuesta. Escríbenos cuando quieras para iniciar uno nuevo.
notice-customer-ended = Terminaste el chat. Escríbenos cuando quieras para iniciar uno nuevo.
agent-fallback = un agente

## Menús (WhatsApp: botones de 20 caracteres como máximo)

menu-list-button = Elige una opción
menu-time-button = Elige un horario
menu-more-options = Más opciones
menu-numbered-prompt = Responde con un número:

## Archivos: lo que se le dice al cliente

file-kind-not-passed = Lo sentimos, no pudimos pasarle este tipo de archivo al agente.
file-not-passed = Lo sentimos, no pudimos pasarle tu archivo al agente.
file-not-converted = Lo sentimos, no pudimos pasarle este archivo al agente.
file-too-large = Lo sentimos, tu archivo es demasiado grande para enviarlo (el límite es de { $limit } MB). ¿Puedes enviar uno más pequeño?
agent-file-too-large = El agente te envió un archivo, "{ $name }", que es demasiado grande para recibirlo aquí (el límite es de { $limit } MB). Puedes pedirle otra forma de recibirlo.
transcript-echo = 🎤 "{ $transcript }"

## Archivos: lo que se le dice al agente

transcript = 🎤 Transcripción: { $transcript }
transcript-silent = 🎤 Transcripción: (no se reconoció ninguna voz)
transcript-failed = 🎤 Falta la transcripción de este mensaje de voz: la transcripción falló.
transcript-too-long = 🎤 Falta la transcripción de este mensaje de voz: con { $seconds } s es demasiado largo para transcribirlo aquí.
file-not-retrieved = ⚠️ No se pudo obtener el archivo de WhatsApp.
file-upload-refused = [archivo: { $name }, { $format }, { $size }] El cliente envió este archivo, pero el chat rechazó la carga.
agent-file-not-sent = "{ $name }" no se envió al cliente: supera los { $limit } MB que se pueden pasar. Ya se le avisó al cliente.
customer-file-too-large = El cliente envió { $file } ({ $size }), más grande que los { $limit } que este chat puede mostrar.
customer-file-not-accepted = El cliente envió { $file } ({ $format }, { $size }) en un formato que este chat no puede mostrar.
customer-file-not-converted = El cliente envió { $file } ({ $format }, { $size }) que no se pudo convertir para este chat.
customer-file = { $kind ->
    [document] { $name ->
        [none] un documento
       *[other] un documento "{ $name }"
    }
    [voice] un mensaje de voz
    [audio] un archivo de audio
    [image] una foto
    [sticker] un sticker
   *[video] un video
}
unknown-format = formato desconocido
file-label = { $kind ->
    [document] archivo
    [voice] mensaje de voz
    [audio] audio
    [image] imagen
    [sticker] sticker
    [animated-sticker] sticker animado
   *[video] video
}

## Lo que el cliente envió y Connect no puede mostrar

location-unnamed = Ubicación compartida
contacts-empty = [tarjeta de contacto vacía]
contact-unnamed = Contacto
contact-on-whatsapp = en WhatsApp
reaction-added = reaccionó con { $emoji } a: { $quote }
reaction-added-unknown = reaccionó con { $emoji } a un mensaje
reaction-removed = quitó su reacción de: { $quote }
reaction-removed-unknown = quitó su reacción de un mensaje
unsupported = [El cliente envió algo que WhatsApp no pasa a las empresas: { $kind }]
unsupported-unknown = [El cliente envió algo que WhatsApp no pasa a las empresas]
whatsapp-notice = [Aviso de WhatsApp: { $body }]
whatsapp-notice-empty = [Aviso de WhatsApp]
order = [pedido: { $items ->
    [one] { $items } artículo
   *[other] { $items } artículos
}]
form-submitted = [formulario enviado]

## Mensajes que no llegaron al cliente (notas para el agente)

delivery-failed = Tu mensaje { $quote } no se entregó
delivery-failed-unknown = Un mensaje no se entregó
reason-reengagement = pasaron más de 24 horas desde el último mensaje del cliente; ahora solo una plantilla puede llegarle
reason-undeliverable = no se puede entregar: es posible que el número no esté en WhatsApp, que haya bloqueado a esta empresa o que deba actualizar WhatsApp
reason-error = error de WhatsApp { $code }: { $detail }
reason-error-bare = error de WhatsApp { $code }
reason-none = WhatsApp no indicó el motivo
